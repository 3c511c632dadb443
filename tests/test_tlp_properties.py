"""Property: no content about an incident reaches a person or room not cleared for it (§5).

Each scenario is generated from one seed: a roster of 6-10 people over 2-4 organisations (the
owning one, `cert`, among them) with varied roles and clearances, an incident (or exercise)
declared with a random label and a title found nowhere else (`Secret-<hex>`), then a random
run of 10-18 things people do: raise and lower the label, `share` / `unshare`, `enforce`, page,
approve, release and swap people, answer pages (button, reply or keycap), let time pass (ack
timeouts, check-ins, reminders), add lessons with owners and due dates, ask `status` in the lobby
and in direct messages, triage, move the lifecycle, `realworld` and `endex`, and join the war
room while it is public (TLP:CLEAR: anyone may, on a real platform; the console double has no
such call, so the test adds the member and tells the bot as the Slack and Matrix adapters do).
Commands in the war room are typed by its members. Refusals are part of it; the bot answers them.

After every operation, once the bot has delivered everything, an oracle reads what the console
platform holds that is new since the last look (messages, edits, files, room names, members)
and the incident as stored (`bot.store.get`), and checks:

1. the lobby: the bot names the title there only while the label is TLP:CLEAR;
2. a direct message: the title only to a person admitted at that moment, as the gate computes
   it (`qualifies(..., inside=...)` with "inside" as `handlers.audience.is_inside`: the
   declarer, someone who accepted a page, or who joined the room);
3. the war room: the title only while every member is admitted or a listed outsider awaiting
   `enforce` (`handlers.audience.outsiders`); and nobody stays in it who is neither (the room's
   name and pinned headline name the incident);
4. nobody is made a member of the war room who is not admitted at that moment;
5. (any other room: the title only to admitted members.)

`RRT_TEST_TLP_SCENARIOS` sets how many scenarios run (default 200), `RRT_TEST_TLP_BASE_SEED`
the first seed (scenario n uses base + n), and `RRT_TEST_TLP_SEED` runs that one seed alone,
printing every operation. A breach names its seed, the operations up to it, what reached whom,
and why.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import shutil
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsolePlatform
from bot.adapters.console.platform import BOT, ConsoleRoom, PostedMessage
from bot.bootstrap import Bot, build
from bot.core.clock import FakeClock
from bot.core.incident import Incident
from bot.core.lifecycle import State
from bot.core.paging import PageStatus
from bot.core.roster import Person, Roster
from bot.core.tlp import TLP
from bot.core.triage import Questionnaire
from bot.port import Inbound, InboundKind
from config.policy import Policy, load_policy
from config.triage import load_questionnaire
from handlers.audience import is_inside, outsiders, qualifies
from handlers.team_flow import on_team
from tests.fixtures.chat import START
from tests.fixtures.roster import person
from tests.fixtures.rosters import ORGS
from tests.fixtures.settings import settings_in

SCENARIOS = int(os.environ.get("RRT_TEST_TLP_SCENARIOS", "200"))
BASE_SEED = int(os.environ.get("RRT_TEST_TLP_BASE_SEED", "5000"))
ONE_SEED = os.environ.get("RRT_TEST_TLP_SEED")
MIN_OPS, MAX_OPS = 9, 17  # after the declaration: 10-18 operations in all
MAX_FIRINGS = 30  # timer wake-ups in one "time passes" step, before jumping to its end

OWNER = "cert"
OTHER_ORGS = [org for org in ORGS if org.id != OWNER]
FIRST_NAMES = [
    "Alice", "Bob", "Carla", "Dirk", "Erik", "Fatima", "Gert", "Hanne",
    "Ines", "Jonas", "Katrien", "Lars", "Mira", "Nico",
]  # fmt: skip
SURNAMES = ["Martin", "Peeters", "Dubois", "Janssens", "Maes", "Claes", "Wouters", "Lambert"]
ROLES = ["analyst", "forensics", "comms", "police_liaison", "scribe", "sector_liaison"]
CLEARANCES = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
CLEARANCE_WEIGHTS = [1, 2, 3, 2, 4]
LABEL_WEIGHTS = [1, 2, 4, 2, 3]  # of a label declared or set, in CLEARANCES order
STEPS = [
    timedelta(minutes=5),
    timedelta(minutes=16),
    timedelta(minutes=31),
    timedelta(hours=1),
    timedelta(hours=2, minutes=30),
    timedelta(hours=7),
    timedelta(days=1),
]
STEP_WEIGHTS = [3, 4, 3, 2, 2, 1, 1]


@functools.cache
def policy_files() -> tuple[Policy, Questionnaire]:
    """The shipped policy and triage files, read once for all scenarios."""
    return load_policy(), load_questionnaire()


def generate_roster(rng: random.Random) -> Roster:
    orgs = [next(o for o in ORGS if o.id == OWNER), *rng.sample(OTHER_ORGS, rng.randint(1, 3))]
    size = rng.randint(6, 10)
    people: list[Person] = []
    for index, first in enumerate(rng.sample(FIRST_NAMES, size)):
        name = f"{first} {rng.choice(SURNAMES)}"
        if index == 0:  # the declarer: a coordinator at the owning organisation
            roles = ["coordinator"] + (["analyst"] if rng.random() < 0.3 else [])
            clearance = rng.choices([TLP.RED, TLP.AMBER_STRICT, TLP.AMBER], [6, 2, 2])[0]
            people.append(person(first.lower(), name, OWNER, roles, max_tlp=clearance))
            continue
        org = OWNER if rng.random() < 0.45 else rng.choice(orgs[1:]).id
        roles = rng.sample(ROLES, rng.randint(1, 2))
        if org == "police" and "police_liaison" not in roles and rng.random() < 0.6:
            roles.append("police_liaison")
        if rng.random() < 0.15:
            roles.append("coordinator")
        extra: dict[str, object] = {
            "max_tlp": rng.choices(CLEARANCES, CLEARANCE_WEIGHTS)[0],
            "available": rng.random() < 0.85,
            "duty_contact": org != OWNER and rng.random() < 0.3,
        }
        people.append(person(first.lower(), name, org, roles, **extra))
    return Roster(orgs=orgs, people=people)


@dataclass
class Breach:
    seed: int
    step: int
    rule: str
    where: str
    who: str
    text: str

    def describe(self) -> str:
        excerpt = " / ".join(line for line in self.text.splitlines() if line.strip())[:300]
        return f"{self.rule} in {self.where} (reached {self.who}): {excerpt!r}"


@dataclass
class Seen:
    """What the oracle has already read of a room."""

    messages: int = 0
    edits: dict[str, int] = field(default_factory=dict)
    files: int = 0
    topic: str = ""
    members: set[str] = field(default_factory=set)
    named: bool = False


class Scenario:
    def __init__(self, seed: int, folder: Path) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.roster = generate_roster(self.rng)
        self.title = f"Secret-{self.rng.getrandbits(48):012x}"
        self.marker = self.title.lower().removeprefix("secret-")
        self.exercise = self.rng.random() < 0.3
        self.clock = FakeClock(START)
        policy, questionnaire = policy_files()
        self.bot: Bot = build(
            settings_in(folder),
            clock=self.clock,
            roster=self.roster,
            policy=policy,
            questionnaire=questionnaire,
        )
        self.chat = ConsolePlatform(on_inbound=self.bot.dispatcher)
        self.bot.attach(self.chat)
        self.incident_id: str | None = None
        self.ops: list[str] = []
        self.breaches: list[Breach] = []
        self.seen: dict[str, Seen] = {}
        self.kinds: Counter[str] = Counter()
        self._incident: Incident | None = None
        self._stale = True  # the bot acted since the incident was last read

    # -- reading the bot's state ------------------------------------------------------

    def incident(self) -> Incident | None:
        """The incident as stored now (read again only after the bot acted)."""
        if self._stale and self.incident_id is not None:
            self._incident, self._stale = self.bot.store.get(self.incident_id), False
        return self._incident

    def war_room(self) -> ConsoleRoom | None:
        incident = self.incident()
        room = incident.rooms.get("console") if incident else None
        return self.chat.rooms.get(room.room_id) if room else None

    def members(self) -> list[str]:
        room = self.war_room()
        return sorted(room.members - {BOT}) if room else []

    def coordinator_or_member(self) -> str | None:
        """Who types a coordinator's command: mostly a coordinator in the room."""
        members = self.members()
        coordinators = [
            m
            for m in members
            if (p := self.roster.person(m)) is not None and p.holds("coordinator")
        ]
        if coordinators and self.rng.random() < 0.85:
            return self.rng.choice(coordinators)
        return self.rng.choice(members) if members else None

    def admitted(self, incident: Incident, person_id: str) -> bool:
        """As the gate decides at delivery: cleared, and under RED approved or inside.
        Someone not on the roster (a guest in a public room) only under TLP:CLEAR."""
        found = self.roster.person(person_id)
        if found is None:
            return incident.tlp is TLP.CLEAR
        return qualifies(self.bot.services, incident, found, inside=is_inside(incident, found))

    # -- the oracle -------------------------------------------------------------------

    def check(self) -> None:
        incident = self.incident()
        # Listed by roster id, or (a guest not on the roster) by their console handle.
        listed = {
            name
            for o in (outsiders(self.bot.services, incident) if incident else [])
            for name in (o.person.id, *o.person.handles.values())
        }
        war_rooms = (
            {r.room_id for r in incident.rooms.values() if r.platform == "console"}
            if incident
            else set()
        )
        step = len(self.ops)

        def admitted(person_id: str) -> bool:
            return incident is not None and self.admitted(incident, person_id)

        def breach(rule: str, where: str, who: str, text: str) -> None:
            self.breaches.append(Breach(self.seed, step, rule, where, who, text))

        for room in list(self.chat.rooms.values()):
            seen = self.seen.setdefault(room.id, Seen())
            new = self._new_content(room, seen)
            leaked = [text for text in new if self.marker in text.lower()]
            members = room.members - {BOT}
            if room.id == self.chat.lobby:
                if leaked and (incident is None or incident.tlp is not TLP.CLEAR):
                    label = incident.tlp.value if incident else "no incident"
                    for text in leaked:
                        breach(f"(1) title in the lobby under {label}", "lobby", "anyone", text)
            elif room.direct_with is not None:
                if leaked and not admitted(room.direct_with):
                    for text in leaked:
                        breach(
                            "(2) title in a direct message to someone not admitted",
                            f"DM @{room.direct_with}",
                            self._who(room.direct_with, incident),
                            text,
                        )
            elif room.id in war_rooms:
                assert incident is not None
                unlisted = sorted(m for m in members if not admitted(m) and m not in listed)
                for member in unlisted:
                    if leaked:
                        for text in leaked:
                            breach(
                                "(3) title in the war room with a member neither admitted "
                                "nor listed",
                                "war room",
                                self._who(member, incident),
                                text,
                            )
                    elif member in seen.members:
                        breach(
                            "(3) a member neither admitted nor listed stays in the war room",
                            "war room",
                            self._who(member, incident),
                            room.name,
                        )
                for member in sorted(members - seen.members):
                    if not admitted(member):
                        breach(
                            "(4) made a member of the war room while not admitted",
                            "war room",
                            self._who(member, incident),
                            room.name,
                        )
            else:  # a room the bot made that is not the incident's war room
                for member in sorted(m for m in members if not admitted(m)):
                    for text in leaked:
                        breach(
                            "(5) title in another room",
                            room.name,
                            self._who(member, incident),
                            text,
                        )
            seen.members = set(members)

    def _new_content(self, room: ConsoleRoom, seen: Seen) -> list[str]:
        """What the bot has shown in the room since the last look."""
        texts: list[str] = []
        if not seen.named:
            seen.named = True
            texts.append(room.name)
        messages: list[PostedMessage] = room.messages
        for index, message in enumerate(messages):
            if message.author != BOT:
                continue
            if index >= seen.messages or seen.edits.get(message.id, 0) != message.edits:
                texts.append(message.text + "".join(f" [{b[0]}]" for b in message.buttons))
            seen.edits[message.id] = message.edits
        seen.messages = len(messages)
        for name, content, _kind in room.files[seen.files :]:
            texts.append(f"[file {name}] " + content.decode("utf-8", "replace"))
        seen.files = len(room.files)
        if room.topic != seen.topic:
            texts.append(room.topic)
            seen.topic = room.topic
        return texts

    def _who(self, person_id: str, incident: Incident | None) -> str:
        found = self.roster.person(person_id)
        if found is None:
            return person_id
        if incident is None:
            return f"{person_id} ({found.org}, up to {found.max_tlp.value})"
        inside = is_inside(incident, found)
        pages = [
            f"{state.role}:{page.status.value}"
            for state in (incident.team.roles if incident.team else [])
            for page in state.pages
            if page.person_id == person_id
        ]
        return (
            f"{person_id} ({found.org}, up to {found.max_tlp.value}; incident "
            f"{incident.tlp.value}, shared {incident.named_orgs or '-'}, inside={inside}, "
            f"approved={person_id in incident.approved}, pages={pages or '-'})"
        )

    # -- people acting ------------------------------------------------------------------

    async def say(self, who: str, where: str, text: str) -> None:
        if where == "lobby":
            room = self.chat.lobby
        elif where == "dm":
            room = self.chat.open_direct(who)
        else:
            war = self.war_room()
            assert war is not None
            room = war.id
        self.ops.append(f"{who}@{where}: {text}")
        self._stale = True
        await self.chat.say(who, room, text)

    async def declare(self) -> None:
        declarer = self.roster.people[0]
        allowed = [t for t in CLEARANCES if t.allows(declarer.max_tlp)]
        pool = allowed if self.rng.random() < 0.9 else CLEARANCES
        label = self.rng.choices(pool, LABEL_WEIGHTS[: len(pool)])[0]
        exercise = ["--exercise"] if self.exercise else []
        flags = list(exercise)
        if label is not TLP.AMBER or self.rng.random() < 0.5:
            flags += ["--tlp", label.value.removeprefix("TLP:").lower()]
        where = "lobby" if self.rng.random() < 0.75 else "dm"
        await self.say(declarer.id, where, " ".join(["declare", *flags, self.title]))
        open_ = self.bot.store.open_incidents()
        if not open_:  # refused: above the declarer's clearance; declare again at AMBER
            self.check()
            await self.say(declarer.id, where, " ".join(["declare", *exercise, self.title]))
            open_ = self.bot.store.open_incidents()
        assert len(open_) == 1, self.chat.text()
        self.incident_id = open_[0].id

    async def op_tlp(self) -> bool:
        actor = self.coordinator_or_member()
        incident = self.incident()
        if actor is None or incident is None:
            return False
        label = self.rng.choices(CLEARANCES, LABEL_WEIGHTS)[0]
        if label is incident.tlp:
            return False
        reason = " --reason drill" if self.rng.random() < 0.85 else ""
        await self.say(actor, "war", f"tlp {label.value.removeprefix('TLP:').lower()}{reason}")
        return True

    async def op_share(self) -> bool:
        actor = self.coordinator_or_member()
        if actor is None:
            return False
        orgs = [o.id for o in self.roster.orgs]
        org = self.rng.choice(orgs[1:]) if self.rng.random() < 0.9 else self.rng.choice(orgs)
        await self.say(actor, "war", f"share {org}")
        return True

    async def op_unshare(self) -> bool:
        actor, incident = self.coordinator_or_member(), self.incident()
        if actor is None or incident is None:
            return False
        named = incident.named_orgs
        choices = named if named and self.rng.random() < 0.85 else [o.id for o in self.roster.orgs]
        await self.say(actor, "war", f"unshare {self.rng.choice(choices)}")
        return True

    async def op_enforce(self) -> bool:
        actor = self.coordinator_or_member()
        if actor is None:
            return False
        await self.say(actor, "war", "enforce")
        return True

    async def op_page(self) -> bool:
        actor = self.coordinator_or_member()
        if actor is None:
            return False
        target = self.rng.choice(self.roster.people)
        roles = target.roles if self.rng.random() < 0.85 else ["coordinator", *ROLES]
        await self.say(actor, "war", f"page {target.id} as {self.rng.choice(roles)}")
        return True

    async def op_approve(self) -> bool:
        actor, incident = self.coordinator_or_member(), self.incident()
        if actor is None or incident is None:
            return False
        proposed = [p for proposal in incident.proposals for p in proposal.candidates]
        if proposed and self.rng.random() < 0.8:
            target = self.rng.choice(proposed)
        else:
            target = self.rng.choice(self.roster.people).id
        await self.say(actor, "war", f"approve {target}")
        return True

    def _latest_page(self, person_id: str) -> PostedMessage | None:
        room = self.chat.direct_room(person_id)
        pages = [m for m in room.messages if m.author == BOT and m.buttons] if room else []
        return pages[-1] if pages else None

    def _open_pages(self) -> list[str]:
        """People with a page still open who have a page in their direct messages."""
        incident = self.incident()
        waiting = {
            page.person_id
            for state in (incident.team.roles if incident and incident.team else [])
            for page in state.pages
            if page.status is PageStatus.PAGED
        }
        return sorted(p for p in waiting if self._latest_page(p) is not None)

    async def op_answer_page(self) -> bool:
        """Someone paged answers their latest page (mostly one still open)."""
        waiting = self._open_pages()
        if not waiting or self.rng.random() < 0.1:
            waiting = [p.id for p in self.roster.people if self._latest_page(p.id) is not None]
        if not waiting:
            return False
        who = self.rng.choice(waiting)
        message = self._latest_page(who)
        assert message is not None
        accept = self.rng.random() < 0.75
        label, page = ("Accept" if accept else "Decline"), message.text.splitlines()[0][:60]
        how = self.rng.random()
        self._stale = True
        if how < 0.7:
            self.ops.append(f"{who}@dm: clicks {label} on “{page}”")
            await self.chat.click(who, message.id, label)
        elif how < 0.85:
            reply = self.rng.choice(["1", "accept"] if accept else ["2", "decline"])
            self.ops.append(f"{who}@dm: replies {reply!r} to “{page}”")
            await self.chat.say(who, message.room_id, reply, reply_to=message.id)
        else:
            keycap = "1️⃣" if accept else "2️⃣"
            self.ops.append(f"{who}@dm: reacts {keycap} to “{page}”")
            await self.chat.react(who, message.id, keycap)
        return True

    async def op_forged_answer(self) -> bool:
        """Someone types a page answer for the incident, paged or not, where they like."""
        if self.incident_id is None:
            return False
        who = self.rng.choice(self.roster.people)
        role = self.rng.choice(["coordinator", *who.roles])
        where = self.rng.choice(["dm", "lobby"])
        await self.say(who.id, where, f"page accept {self.incident_id} {role}")
        return True

    async def op_triage(self) -> bool:
        room, members = self.war_room(), self.members()
        if room is None or not members:
            return False
        asked = [m for m in room.messages if m.author == BOT and m.buttons]
        if not asked:
            return False
        who, message = self.rng.choice(members), asked[-1]
        label = self.rng.choice(message.buttons)[0]
        self.ops.append(f"{who}@war: clicks {label} on “{message.text[:40]}”")
        self._stale = True
        await self.chat.click(who, message.id, label)
        return True

    async def op_level(self) -> bool:
        actor = self.coordinator_or_member()
        if actor is None:
            return False
        if self.rng.random() < 0.25:
            await self.say(actor, "war", "confirm")
        else:
            level = self.rng.choices(["L1", "L2", "L3"], [3, 3, 1])[0]
            await self.say(actor, "war", f"level {level} --reason drill")
        return True

    async def op_criminal(self) -> bool:
        members = self.members()
        if not members:
            return False
        option = self.rng.choice(["criminal", "state-linked"])
        await self.say(self.rng.choice(members), "war", f"answer Q8 {option}")
        return True

    async def op_time(self) -> bool:
        step = self.rng.choices(STEPS, STEP_WEIGHTS)[0]
        target = self.clock.now() + step
        self.ops.append(f"time passes: {step} (to {target:%Y-%m-%d %H:%M})")
        for _ in range(MAX_FIRINGS):
            due = self.bot.store.next_due_at()
            if due is None or due > target:
                break
            self.clock.set(max(due, self.clock.now()))
            self._stale = True
            await self.bot.scheduler.fire_due()
            self.check()
        self.clock.set(target)
        self._stale = True
        await self.bot.scheduler.fire_due()
        return True

    async def op_lesson(self) -> bool:
        members, incident = self.members(), self.incident()
        if not members or incident is None:
            return False
        parts = [f"lesson Fix-{len(incident.lessons) + 1}"]
        if self.rng.random() < 0.85:
            parts += ["owner", self.rng.choice(self.roster.people).id]
        if self.rng.random() < 0.85:
            due = self.clock.now().date() + timedelta(days=self.rng.randint(0, 2))
            parts += ["due", due.isoformat()]
        await self.say(self.rng.choice(members), "war", " ".join(parts))
        return True

    async def op_lesson_done(self) -> bool:
        members, incident = self.members(), self.incident()
        if not members or incident is None or not incident.lessons:
            return False
        number = self.rng.choice(incident.lessons).number
        await self.say(self.rng.choice(members), "war", f"lesson done {number}")
        return True

    async def op_status_lobby(self) -> bool:
        await self.say(self.rng.choice(self.roster.people).id, "lobby", "status")
        return True

    async def op_status_dm(self) -> bool:
        await self.say(self.rng.choice(self.roster.people).id, "dm", "status")
        return True

    async def op_read_war_room(self) -> bool:
        members = self.members()
        if not members:
            return False
        command = self.rng.choice(["status", "team", "timeline", "lessons", "clocks"])
        await self.say(self.rng.choice(members), "war", command)
        return True

    async def op_lifecycle(self) -> bool:
        actor, incident = self.coordinator_or_member(), self.incident()
        if actor is None or incident is None:
            return False
        fitting = {
            State.RESPONSE: "contain",
            State.CONTAINED: "resolve",
            State.RESOLVED: "endex" if incident.is_exercise else "close",
        }.get(incident.state)
        if fitting is None or self.rng.random() < 0.15:
            fitting = self.rng.choice(["contain", "resolve", "close", "reopen"])
        await self.say(actor, "war", fitting)
        return True

    async def op_checkin(self) -> bool:
        actor = self.coordinator_or_member()
        if actor is None:
            return False
        await self.say(actor, "war", "update Conditions stable / Actions none / Needs none")
        return True

    async def op_release(self) -> bool:
        actor, incident = self.coordinator_or_member(), self.incident()
        if actor is None or incident is None or incident.team is None:
            return False
        held = [person for people in on_team(incident.team).values() for person in people]
        if not held:
            return False
        await self.say(actor, "war", f"release {self.rng.choice(held)}")
        return True

    async def op_swap(self) -> bool:
        actor, incident = self.coordinator_or_member(), self.incident()
        if actor is None or incident is None or incident.team is None:
            return False
        held = [person for people in on_team(incident.team).values() for person in people]
        if not held:
            return False
        joining = self.rng.choice(self.roster.people).id
        await self.say(actor, "war", f"swap {self.rng.choice(held)} with {joining}")
        return True

    async def op_join(self) -> bool:
        """Someone joins the war room while it is public (TLP:CLEAR), as a real platform lets
        anyone do; the bot is told, as the Slack and Matrix adapters tell it."""
        room = self.war_room()
        if room is None or room.private:
            return False
        outside = [p.id for p in self.roster.people if p.id not in room.members]
        if self.rng.random() < 0.4 or not outside:
            who = f"guest{len(self.ops)}"
        else:
            who = self.rng.choice(outside)
        self.ops.append(f"{who} joins the public war room")
        room.members.add(who)
        self.chat.transcript.append(f"[#{room.name}] *: {who} joined (the room is public)")
        self._stale = True
        await self.bot.dispatcher(
            Inbound(
                platform=self.chat.name,
                event_id=f"join-{len(self.ops)}",
                kind=InboundKind.JOINED,
                user_id=who,
                room_id=room.id,
            )
        )
        return True

    async def op_realworld(self) -> bool:
        members = self.members()
        if not members or not self.exercise:
            return False
        await self.say(self.rng.choice(members), "war", "realworld")
        return True

    async def op_note(self) -> bool:
        members = self.members()
        if not members:
            return False
        await self.say(self.rng.choice(members), "war", "note checked the firewall logs")
        return True

    # -- running ----------------------------------------------------------------------

    def operations(self, progress: float) -> list[tuple[Callable[[], Awaitable[bool]], int]]:
        """What may happen next, weighted by the state: build a team early, stir it later."""
        incident = self.incident()
        assert incident is not None
        open_pages = bool(self._open_pages())
        listed = bool(outsiders(self.bot.services, incident))
        room = self.war_room()
        public = room is not None and not room.private
        unnamed = [o.id for o in self.roster.orgs[1:] if o.id not in incident.named_orgs]
        late = progress > 0.4
        return [
            (self.op_answer_page, 25 if open_pages else 3),
            (self.op_enforce, 18 if listed else 2),
            (self.op_approve, 14 if incident.proposals else 2),
            (self.op_level, 12 if incident.level is None else 3),
            (self.op_page, 10),
            (self.op_tlp, 18 if late else 8),
            (self.op_share, 7 if unnamed else 2),
            (self.op_unshare, 7 if incident.named_orgs else 1),
            (self.op_time, 9),
            (self.op_lesson, 5),
            (self.op_lesson_done, 1),
            (self.op_status_lobby, 4),
            (self.op_status_dm, 6),
            (self.op_read_war_room, 2),
            (self.op_lifecycle, 8 if late else 3),
            (self.op_checkin, 1),
            (self.op_release, 2),
            (self.op_swap, 1),
            (self.op_join, 8 if public else 0),
            (self.op_realworld, 3 if incident.is_exercise else 0),
            (self.op_note, 1),
            (self.op_forged_answer, 2),
            (self.op_triage, 3),
            (self.op_criminal, 2),
        ]

    async def run(self) -> None:
        await self.declare()
        self.check()
        count = self.rng.randint(MIN_OPS, MAX_OPS)
        for number in range(count):
            if self.breaches:
                break
            choices = self.operations(number / count)
            actions, weights = [a for a, _ in choices], [w for _, w in choices]
            for _attempt in range(10):  # an operation that does not fit now is drawn again
                if await self.rng.choices(actions, weights)[0]():
                    break
            self.check()
        self.kinds.update(r.event.kind for r in self.bot.store.log())

    def close(self) -> None:
        self.bot.close()


def seeds() -> list[int]:
    if ONE_SEED is not None:
        return [int(ONE_SEED)]
    return [BASE_SEED + n for n in range(SCENARIOS)]


@pytest.mark.timeout(max(120, len(seeds()) // 2))
async def test_no_content_reaches_anyone_not_cleared_for_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A new key per database, and the gate's withholdings (logged in the incident too): noise.
    caplog.set_level(logging.ERROR, logger="storage.signing")
    caplog.set_level(logging.ERROR, logger="rrt.delivery")
    breached: list[Scenario] = []
    operations = 0
    kinds: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for seed in seeds():
        folder = tmp_path / str(seed)
        folder.mkdir()
        scenario = Scenario(seed, folder)
        try:
            await scenario.run()
            incident = scenario.incident()
        finally:
            scenario.close()
        operations += len(scenario.ops)
        kinds.update(scenario.kinds)
        labels[incident.tlp.value if incident else "-"] += 1
        if scenario.breaches:
            breached.append(scenario)
        if ONE_SEED is not None:
            print(f"\nseed {seed}: {len(scenario.ops)} operations")
            for number, op in enumerate(scenario.ops, 1):
                print(f"  {number:2}. {op}")
            print(scenario.chat.text())
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"\n{len(seeds())} scenarios, {operations} operations, {len(breached)} with a breach; "
        f"final labels {dict(labels)}; logged: "
        + ", ".join(
            f"{kind} {kinds[kind]}"
            for kind in (
                "paged",
                "page_accepted",
                "tlp_changed",
                "outsiders_listed",
                "tlp_enforced",
                "orgs_named",
                "approved",
                "lesson_reminded",
                "withheld",
                "exercise_suspended",
            )
        )
    )
    if breached:
        rules = Counter(b.rule for s in breached for b in s.breaches[:1])
        pytest.fail(
            f"{len(breached)} of {len(seeds())} scenarios breached; first breach by rule: "
            + "; ".join(f"{rule}: {n}" for rule, n in rules.most_common())
            + f"\nseeds: {' '.join(str(s.seed) for s in breached)}\n\n"
            + "\n\n".join(_report(s) for s in breached[:5])
            + (f"\n\n… and {len(breached) - 5} more scenarios" if len(breached) > 5 else ""),
            pytrace=False,
        )


def _report(scenario: Scenario) -> str:
    first = scenario.breaches[0]
    ops = "\n".join(f"  {n:2}. {op}" for n, op in enumerate(scenario.ops[: first.step], 1))
    found = "\n".join(f"  - {b.describe()}" for b in scenario.breaches)
    return (
        f"seed {scenario.seed} (rerun: RRT_TEST_TLP_SEED={scenario.seed} .venv/bin/pytest -s "
        f"tests/test_tlp_properties.py), after operation {first.step}:\n{found}\n"
        f"operations:\n{ops}"
    )
