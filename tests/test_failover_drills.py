"""Fail-over drills: the Matrix leader is killed with SIGKILL at random moments of an incident.

Two `rrt run` replicas share a PostgreSQL database and the Matrix store, as in
`tests/test_matrix_failover.py`. People play a scripted incident on the homeserver: the
coordinator declares in a lobby, accepts her page, answers the triage in the war room (now
waiting for each answer, now sending several at once), the analysts accept their pages, and
she takes the incident through its level, notes, status and team to closing. The first run is
the reference: nobody is killed. In each drill the replica that syncs is killed, once or
twice, at random moments of the script; the standby takes over and the killed one is started
again as the new standby. A drill must end with what the reference ended with: the same log,
event kind by event kind; the same bot messages in every room, as first sent and as edited
last, each as often; one war room; one direct room per person; one bot device.

A kill between recording a command and handling it is also made on purpose: the standby
must handle what its predecessor left before what it syncs next, in the order sent.

`RRT_TEST_FAILOVER_DRILLS` sets the number of drills (default 2) and
`RRT_TEST_FAILOVER_SEED` the base seed (drill `n` uses seed base + n); a failure names the
seed, the moments of the kills and the step each fell in. A seed gives the same moments, but
what they hit depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import random
import re
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from nio import MessageDirection

from bot.core.clock import SystemClock
from bot.port import Inbound, InboundKind
from handlers.dispatch import encode
from storage.sql_store import open_store
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import Analyst, eventually, ok, option_number
from tests.adapters.matrix.test_end_to_end import lobby_with_bot
from tests.fixtures.postgres import PrivateCluster
from tests.fixtures.replicas import WAIT_SECONDS, Replica, replica_environment
from tests.fixtures.synapse import SynapseServer
from tests.fixtures.triage import WORKED_EXAMPLE
from tests.test_matrix_failover import bot_devices, remembered_device

pytestmark = [pytest.mark.matrix, pytest.mark.postgres]

DRILLS = int(os.environ.get("RRT_TEST_FAILOVER_DRILLS", "2"))
BASE_SEED = int(os.environ.get("RRT_TEST_FAILOVER_SEED", "20261201"))
MAX_KILLS = 2  # kills in one drill
# Recovery that falls back on an effect's claim running out (60 s) or on the periodic pass for
# events a dead replica left (30 s, then up to 15 s) fits in this; only a failing drill waits
# longer.
STEP_SECONDS = 120.0
TITLE = "Ransomware at hospital"
AIM_SECONDS = 0.5  # a kill lands this long at most after a step is sent: while it is handled
LOBBY, WAR_ROOM, PAGE = "lobby", "war room", "page"
PAGED = "📟 You are paged as"


@dataclass(frozen=True)
class Step:
    """What a person sends, where, and the bot's answer they wait for before going on (None:
    the next step follows at once). `{incident}` stands for the run's incident id. In a page
    step the person answers their latest page, in their direct room with the bot: a reaction,
    or a numbered reply."""

    who: str
    where: str
    text: str
    answer: str | None


def _triage(question: str, *, wait: bool = True) -> Step:
    option = WORKED_EXAMPLE[question]
    command = f"!incident answer {question} {option_number(question, option)}"
    awaited = f"{question} → {option} (answered by Alice Martin)." if wait else None
    return Step("alice", WAR_ROOM, command, awaited)


SCRIPT: tuple[Step, ...] = (
    Step("alice", LOBBY, f"!incident declare {TITLE}", "Declared {incident}"),
    Step("alice", PAGE, "✅", "Thank you. You are on"),
    *(_triage(q) for q in ("Q1", "Q2", "Q3", "Q4")),
    _triage("Q5", wait=False),
    _triage("Q6", wait=False),
    _triage("Q7"),
    Step("alice", WAR_ROOM, "!incident note Backups intact; EPR servers isolated.", None),
    *(_triage(q) for q in ("Q8", "Q9")),
    _triage("Q10", wait=False),
    _triage("Q11", wait=False),
    _triage("Q12", wait=False),
    _triage("Q13"),
    *(_triage(q) for q in ("Q14a", "Q14b", "Q14c", "Q14d")),
    Step("bob", PAGE, "✅", "Thank you. You are on"),
    Step("carla", PAGE, "1", "Thank you. You are on"),
    Step("alice", WAR_ROOM, "!incident confirm", "Level L2 confirmed by Alice Martin."),
    Step("alice", WAR_ROOM, "!incident note Sector authority informed.", "Noted in {incident}."),
    Step(
        "alice",
        WAR_ROOM,
        "!incident level L3 --reason A second hospital reports the same ransom note",
        "Level set to L3 by Alice Martin.",
    ),
    Step("alice", WAR_ROOM, "!incident status", None),
    Step("alice", WAR_ROOM, "!incident team", "Team of {incident}"),
    Step("alice", WAR_ROOM, "!incident contain", "{incident} contained by Alice Martin."),
    Step("alice", WAR_ROOM, "!incident resolve", "{incident} resolved by Alice Martin."),
    Step("alice", WAR_ROOM, "!incident close", "Regulatory reports of {incident} not filed yet"),
    Step("alice", WAR_ROOM, "!incident close confirm", "{incident} closed by Alice Martin"),
)

# Moments in the bot's text (due dates, when someone was paged) differ from run to run.
_MOMENTS = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?( UTC)?|\b\d{2}:\d{2}( UTC)?\b")


def normalised(text: str, incident: str) -> str:
    return _MOMENTS.sub("<time>", text.replace(incident, "<incident>"))


@dataclass
class Effects:
    """What a run left: the incident's log, what people read, the rooms the bot made."""

    kinds: list[str]
    sent: dict[str, Counter[str]]  # room → the bot's messages, as first sent
    shown: dict[str, Counter[str]]  # room → the bot's messages, as edited last
    war_rooms: int
    direct_rooms: Counter[str]  # person → direct rooms the bot made with them, in all


@dataclass(frozen=True)
class Aim:
    """A kill `delay` seconds after the script's `step` was sent."""

    step: int
    delay: float


def random_aims(rng: random.Random) -> list[Aim]:
    """One or two kills, at random moments of the script, in order."""
    steps = sorted(rng.sample(range(len(SCRIPT)), rng.randint(1, MAX_KILLS)))
    return [Aim(step, rng.uniform(0, AIM_SECONDS)) for step in steps]


@dataclass
class Kill:
    at: float  # seconds into the script
    step: int  # the step under way
    replica: str
    unsynced: int  # steps sent after the kill, before the other replica synced

    def __str__(self) -> str:
        meanwhile = f", {self.unsynced} step(s) sent before the takeover" if self.unsynced else ""
        step = f"step {self.step} {SCRIPT[self.step].text!r}"
        return f"{self.replica} at {self.at:.2f} s ({step}{meanwhile})"


@dataclass
class Played:
    effects: Effects
    seconds: float  # to the last step's answer
    longest_wait: float  # for one answer
    kills: list[Kill]
    held_up: list[str]  # what the kills held up (`late_work`)


class Replicas:
    """Two replicas of the bot; the leader is the one that syncs."""

    def __init__(self, first: Replica, second: Replica) -> None:
        self.all = (first, second)

    async def start(self) -> None:
        first, second = self.all
        await first.start()
        await first.wait_for_state("connected")
        await second.start()
        await second.wait_for_state("standby")

    async def leader(self) -> Replica | None:
        for replica in self.all:
            if replica.running and await replica.matrix_state() == "connected":
                return replica
        return None

    async def kill_leader(self, run: Run, started: float) -> Kill:
        """SIGKILL the replica that syncs (waiting for one to), then, once the other has taken
        over, start it again: the new standby."""
        leader = await eventually(self.leader, "a replica to sync", STEP_SECONDS)
        at, sent = time.monotonic() - started, run.sent
        assert await leader.stop(signal.SIGKILL) == -signal.SIGKILL
        (other,) = (replica for replica in self.all if replica is not leader)
        await other.wait_for_state("connected")
        unsynced = run.sent - sent
        await leader.start()
        return Kill(at, sent - 1, leader.log_path.stem, unsynced)

    async def settled(self) -> None:
        """One replica syncs, the other stands by."""
        leader = await eventually(self.leader, "a replica to sync", STEP_SECONDS)
        for replica in self.all:
            if replica is not leader:
                await replica.wait_for_state("standby")

    async def stop(self) -> None:
        for replica in self.all:
            if replica.running:
                await replica.stop(signal.SIGKILL)

    def output(self) -> str:
        return "\n".join(f"--- {r.log_path.name}\n{r.output()[-3000:]}" for r in self.all)


def rooms_made(team: Team) -> list[tuple[str | None, set[str]]]:
    """(name, members) of every room the bot created and is in, read with the token the
    registration gave (not the bot's device)."""

    def get(path: str) -> Any:
        request = urllib.request.Request(
            f"{team.synapse.base_url}/_matrix/client/v3{path}",
            headers={"Authorization": f"Bearer {team.bot_token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)

    made = []
    for room_id in get("/joined_rooms")["joined_rooms"]:
        state = get(f"/rooms/{room_id}/state")
        if next(e for e in state if e["type"] == "m.room.create")["sender"] != team.bot_user_id:
            continue  # a lobby someone invited the bot to
        names = [e["content"].get("name") for e in state if e["type"] == "m.room.name"]
        members = {
            e["state_key"]
            for e in state
            if e["type"] == "m.room.member" and e["content"].get("membership") in ("join", "invite")
        }
        made.append((names[0] if names else None, members))
    return made


async def room_history(member: Analyst, room_id: str, since_ms: int) -> list[dict[str, Any]]:
    """The room's events from `since_ms` on, oldest first."""
    events: list[dict[str, Any]] = []
    start: str | None = None
    while True:
        page = ok(
            await member.client.room_messages(
                room_id, start=start, direction=MessageDirection.back, limit=100
            )
        )
        chunk = [event.source for event in page.chunk]
        events.extend(e for e in chunk if e.get("origin_server_ts", 0) >= since_ms)
        if not chunk or chunk[-1].get("origin_server_ts", 0) < since_ms or not page.end:
            return list(reversed(events))
        start = page.end


def bot_texts(events: list[dict[str, Any]], bot: str, incident: str) -> tuple[list[str], list[str]]:
    """The bot's messages, as first sent and as edited last, in the order sent."""
    sent: dict[str, str] = {}
    shown: dict[str, str] = {}
    for event in events:
        if event["sender"] != bot or event["type"] != "m.room.message":
            continue
        content = event["content"]
        relation = content.get("m.relates_to", {})
        if relation.get("rel_type") == "m.replace":
            if relation.get("event_id") in shown:
                body = content.get("m.new_content", {}).get("body", "")
                shown[relation["event_id"]] = normalised(body, incident)
            continue
        text = content.get("body", "")
        if content.get("msgtype") == "m.file":
            text = f"{text} [{content.get('filename')}]"
        sent[event["event_id"]] = shown[event["event_id"]] = normalised(text, incident)
    return list(sent.values()), list(shown.values())


async def invites(member: Analyst) -> dict[str, str]:
    """The rooms the person is invited to, by name ('' for a room without one)."""
    ok(await member.client.sync(timeout=0, full_state=True))
    return {room_id: room.name or "" for room_id, room in member.client.invited_rooms.items()}


class Run:
    """The script played once by the team against the replicas: incident number `number`."""

    def __init__(self, team: Team, database_url: str, number: int, direct: dict[str, str]):
        self.team = team
        self.database_url = database_url
        self.incident = f"INC-{time.gmtime().tm_year}-{number:04d}"
        self.direct = direct  # person → direct room with the bot, kept from run to run
        self.rooms: dict[str, str] = {}  # lobby, war room
        self.sent = 0  # steps sent so far
        self.progress = asyncio.Condition()
        self.waits: list[float] = []

    async def play(self) -> None:
        self.rooms[LOBBY] = await lobby_with_bot(self.team)
        for number, step in enumerate(SCRIPT):
            if step.where == PAGE and step.who not in self.direct:
                self.direct[step.who] = await self._join_invited(step.who, "")
            awaited = step.answer.format(incident=self.incident) if step.answer else None
            before = len(await self._said(step, awaited)) if awaited else 0
            await self._send(step)
            async with self.progress:
                self.sent = number + 1
                self.progress.notify_all()
            if awaited is not None:
                started = time.monotonic()
                await self._answered(step, awaited, before)
                self.waits.append(time.monotonic() - started)
            if step.where == LOBBY:
                self.rooms[WAR_ROOM] = await self.join_war_room()

    def reached(self, step: int) -> bool:
        return self.sent > step

    def _room(self, step: Step) -> str:
        return self.direct[step.who] if step.where == PAGE else self.rooms[step.where]

    async def _said(self, step: Step, text: str) -> list[dict[str, Any]]:
        """The bot's recent messages in the step's room that contain `text`."""
        member = self.team.members[step.who]
        found = await member.bot_messages(self._room(step), self.team.bot_user_id)
        return [m for m in found if text in m["content"].get("body", "")]

    async def _answered(self, step: Step, awaited: str, before: int) -> None:
        async def more() -> bool | None:
            return True if len(await self._said(step, awaited)) > before else None

        await eventually(more, f"step {self.sent - 1} {step.text!r}: {awaited!r}", STEP_SECONDS)

    async def _send(self, step: Step) -> None:
        member = self.team.members[step.who]
        if step.where != PAGE:
            await member.say(self.rooms[step.where], step.text)
            return

        async def page() -> dict[str, Any] | None:
            found = [
                m for m in await self._said(step, PAGED) if self.incident in m["content"]["body"]
            ]
            return found[-1] if found else None

        paged = await eventually(page, f"step {self.sent}: {step.who} paged", STEP_SECONDS)
        if step.text.isdigit():
            await member.reply(self.direct[step.who], paged["event_id"], step.text)
        else:
            await member.react(self.direct[step.who], paged["event_id"], step.text)

    async def join_war_room(self) -> str:
        return await self._join_invited("alice", f"{self.incident} · {TITLE}")

    async def _join_invited(self, who: str, name: str) -> str:
        member = self.team.members[who]

        async def invited() -> str | None:
            found = [room for room, named in (await invites(member)).items() if named == name]
            return found[0] if found else None

        room_id = await eventually(invited, f"{who} invited to {name!r}", STEP_SECONDS)
        await member.join(room_id)
        return room_id

    async def settled(self) -> None:
        """Nothing left to handle or to deliver."""
        store = open_store(self.database_url, SystemClock())

        def idle() -> bool | None:
            return True if not store.pending_effects() and not store.unhandled() else None

        try:
            await eventually(lambda: asyncio.to_thread(idle), "nothing left to do", STEP_SECONDS)
        finally:
            store.close()

    async def effects(self, since_ms: int) -> Effects:
        store = open_store(self.database_url, SystemClock())
        try:
            kinds = [record.event.kind for record in store.log(self.incident)]
        finally:
            store.close()
        rooms = [(LOBBY, "alice", self.rooms[LOBBY]), (WAR_ROOM, "alice", self.rooms[WAR_ROOM])]
        rooms += [(f"direct {who}", who, room) for who, room in sorted(self.direct.items())]
        sent, shown = {}, {}
        for label, who, room_id in rooms:
            history = await room_history(self.team.members[who], room_id, since_ms)
            first, last = bot_texts(history, self.team.bot_user_id, self.incident)
            sent[label], shown[label] = Counter(first), Counter(last)
        made = await asyncio.to_thread(rooms_made, self.team)
        people = {member.user_id: who for who, member in self.team.members.items()}
        direct = Counter(
            people.get(other, other)
            for name, members in made
            if name is None
            for other in members - {self.team.bot_user_id}
        )
        war_rooms = sum(1 for name, _ in made if name and name.startswith(self.incident))
        return Effects(kinds, sent, shown, war_rooms, direct)


async def play(
    team: Team,
    database_url: str,
    number: int,
    direct: dict[str, str],
    replicas: Replicas,
    aims: list[Aim],
) -> Played:
    """One run of the script; the leader is killed at each of `aims`."""
    run = Run(team, database_url, number, direct)
    since_ms = int(time.time() * 1000)
    started = time.monotonic()
    kills: list[Kill] = []

    async def killing() -> None:
        for aim in aims:
            async with run.progress:
                await run.progress.wait_for(partial(run.reached, aim.step))
            await asyncio.sleep(aim.delay)
            kills.append(await replicas.kill_leader(run, started))

    killer = asyncio.create_task(killing())
    try:
        await run.play()
        seconds = time.monotonic() - started
        await killer
    finally:
        if not killer.done():
            killer.cancel()
    await run.settled()
    await replicas.settled()
    held_up = late_work(database_url, since_ms)
    return Played(await run.effects(since_ms), seconds, max(run.waits), kills, held_up)


LATE_SECONDS = 1.5  # an event decided this long after it was recorded waited for something


def late_work(database_url: str, since_ms: int) -> list[str]:
    """What the kills held up: events decided late after they were recorded, and effects
    attempted more than once (left by a killed replica to the one that took over)."""
    since = datetime.fromtimestamp(since_ms / 1000, UTC)
    with psycopg.connect(database_url) as connection:
        decided = connection.execute(
            "SELECT i.payload, i.received_at, min(o.created_at) FROM inbox i"
            " LEFT JOIN outbox o ON o.key LIKE i.platform || ':' || i.event_id || '#%%'"
            " WHERE i.received_at >= %s GROUP BY i.id ORDER BY i.id",
            (since,),
        ).fetchall()
        retried = connection.execute(
            "SELECT kind, count(*) FROM outbox WHERE created_at >= %s AND attempts > 1"
            " GROUP BY kind ORDER BY kind",
            (since,),
        ).fetchall()
    found = []
    for payload, received, first_effect in decided:
        waited = (first_effect - received).total_seconds() if first_effect else 0.0
        if waited > LATE_SECONDS:
            text = json.loads(payload).get("text") or json.loads(payload).get("kind")
            found.append(f"{text!r} decided {waited:.1f} s after it was recorded")
    if retried:
        again = ", ".join(f"{kind} ×{count}" for kind, count in retried)
        found.append(f"effects attempted again after a kill: {again}")
    return found


def differences(reference: Effects, played: Effects) -> list[str]:
    found = []
    if played.kinds != reference.kinds:
        diff = difflib.unified_diff(
            reference.kinds, played.kinds, "reference", "drill", n=1, lineterm=""
        )
        found.append("log kinds differ:\n  " + "\n  ".join(diff))
    for what in ("sent", "shown"):
        expected, got = getattr(reference, what), getattr(played, what)
        for room in sorted(set(expected) | set(got)):
            missing = expected.get(room, Counter()) - got.get(room, Counter())
            extra = got.get(room, Counter()) - expected.get(room, Counter())
            if missing or extra:
                found.append(
                    f"{room}, as {what}: missing {dict(missing)!r}; more than once or new "
                    f"{dict(extra)!r}"
                )
    if played.war_rooms != 1:
        found.append(f"{played.war_rooms} war rooms")
    if played.direct_rooms != reference.direct_rooms:
        found.append(
            f"direct rooms {dict(played.direct_rooms)}, not {dict(reference.direct_rooms)}"
        )
    return found


class Drills:
    """Two replicas of the team's bot on one database: the reference run, then the drills."""

    def __init__(self, team: Team, database_url: str, directory: Path) -> None:
        environment = replica_environment(team, database_url, directory)
        self.team = team
        self.database_url = database_url
        self.replicas = Replicas(
            Replica("first", environment, directory), Replica("second", environment, directory)
        )
        self.direct: dict[str, str] = {}  # the bot keeps its direct rooms from run to run
        self.runs = 0
        self.registered: set[str] = set()
        self.device: str | None = None

    async def start(self) -> Played:
        """Start the replicas and play the reference run."""
        self.registered = await bot_devices(self.team)  # the device of the registration
        await self.replicas.start()
        self.reference = await self._play([])
        self.device = remembered_device(self.database_url)
        return self.reference

    async def drill(self, seed: int) -> tuple[Played, list[str]]:
        """A run with the kills `seed` chooses, and how what it left differs from the
        reference's."""
        played = await self._play(random_aims(random.Random(seed)))
        found = differences(self.reference.effects, played.effects)
        if (device := remembered_device(self.database_url)) != self.device:
            found.append(f"the bot's device is now {device}, not {self.device}")
        if (devices := await bot_devices(self.team)) != self.registered | {self.device}:
            found.append(f"the bot's devices are {sorted(devices)}")
        return played, found

    async def _play(self, aims: list[Aim]) -> Played:
        self.runs += 1
        return await play(self.team, self.database_url, self.runs, self.direct, self.replicas, aims)

    async def stop(self) -> None:
        await self.replicas.stop()


def summary(seed: int, played: Played, found: list[str]) -> str:
    kills = ", ".join(str(kill) for kill in played.kills) or "nobody"
    return "\n  ".join(
        [
            f"seed {seed}: killed {kills}; {played.seconds:.1f} s, longest wait"
            f" {played.longest_wait:.1f} s; {'DIFFERS' if found else 'ok'}",
            *played.held_up,
            *found,
        ]
    )


# A drill takes some 10 s; one whose recovery waits for a claim to run out, a minute more.
@pytest.mark.timeout(120 + 90 * DRILLS)
async def test_killing_the_leader_mid_incident_leaves_what_an_uninterrupted_run_leaves(
    synapse: SynapseServer, cluster: PrivateCluster, tmp_path: Path
) -> None:
    team = Team(synapse, tmp_path)
    drills = Drills(team, cluster.create_database(f"drills_{tmp_path.name}".lower()), tmp_path)
    async with ended(drills, team):
        reference = await drills.start()
        assert drills.device is not None
        assert reference.effects.war_rooms == 1
        assert reference.effects.direct_rooms == {"alice": 1, "bob": 1, "carla": 1}
        print(f"reference: {reference.seconds:.1f} s, longest wait {reference.longest_wait:.1f} s")
        failures = []
        for seed in range(BASE_SEED, BASE_SEED + DRILLS):
            played, found = await drills.drill(seed)
            print(summary(seed, played, found))
            if found:
                failures.append(summary(seed, played, found))
        assert not failures, "\n\n".join(failures)


async def test_what_the_killed_leader_recorded_and_left_goes_before_what_comes_after(
    synapse: SynapseServer, cluster: PrivateCluster, tmp_path: Path
) -> None:
    """The standby that takes over handles the commands its predecessor recorded and did not
    handle before those it syncs next (syncing again, it would take them for repeats): an
    incident's log keeps the order they were sent in."""
    team = Team(synapse, tmp_path)
    drills = Drills(team, cluster.create_database(f"left_{tmp_path.name}".lower()), tmp_path)
    first, second = drills.replicas.all
    run = Run(team, drills.database_url, 1, drills.direct)
    async with ended(drills, team):
        await drills.replicas.start()
        await team.alice.say(await lobby_with_bot(team), f"!incident declare {TITLE}")
        war_room = await run.join_war_room()
        # As the leader records a command it read, and is killed before handling it.
        left = Inbound(
            "matrix", "$left", InboundKind.TEXT, team.alice.user_id, war_room, text="note first"
        )
        store = open_store(drills.database_url, SystemClock())
        try:
            assert store.record(left.platform, left.event_id, encode(left))
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
            await team.alice.say(war_room, "!incident note second")
            await second.wait_for_state("connected")

            def notes() -> list[str] | None:
                log = store.log(run.incident)
                found = [r.event.data["text"] for r in log if r.event.kind == "note"]
                return found if len(found) == 2 else None

            noted = await eventually(lambda: asyncio.to_thread(notes), "two notes", WAIT_SECONDS)
            assert noted == ["first", "second"]
        finally:
            store.close()


@asynccontextmanager
async def ended(drills: Drills, team: Team) -> AsyncIterator[None]:
    """Stops the replicas and the team's clients at the end; on a failure, shows what the
    replicas printed."""
    try:
        yield
    except BaseException:
        print(drills.replicas.output())
        raise
    finally:
        await drills.stop()
        await team.close()
