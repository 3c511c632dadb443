"""Two `rrt run` replicas on one PostgreSQL database, serving Slack and Matrix at once, play two
whole incidents: everything happens once.

Both replicas take Slack's signed HTTP requests (each request is sent to both, as a load
balancer retrying on another replica would, some a third time) from one fake Web API; one of
them syncs with a real Synapse while the other stands by. An incident is run over Slack from
declaration through triage, a level, paging (a page declined, pages accepted, the declarer's
left to time out and answered in the next cycle), a note and a TLP raise to its closing
report; another over Matrix, through the leader, in the same run. The database, the
replicas' metrics, the fake Web API and the Matrix rooms then show what a single process
would have left: each event recorded and handled once, the log entry by entry, each timer
fired once, each effect attempted and delivered once, no message sent twice, one war room
per incident, each page sent once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlmodel import Session, select

from bot.adapters.slack.app import EVENTS_PATH
from bot.core.lifecycle import State
from bot.core.roster import Roster
from handlers.replies import SLACK_KEYCAPS
from storage.sql_store import SqlStore, open_store
from storage.tables import InboxRow, OutboxRow
from storage.verify_cli import verify_report
from tests.adapters.matrix.conftest import Team
from tests.adapters.matrix.support import RoomWatch, eventually, option_number
from tests.adapters.matrix.test_end_to_end import join_when_invited, lobby_with_bot
from tests.adapters.slack.payloads import (
    block_action,
    event_callback,
    form,
    interactive_form,
    message,
    reaction_added,
    signed_headers,
    slash_command,
)
from tests.fixtures.ports import free_port
from tests.fixtures.postgres import PrivateCluster
from tests.fixtures.replicas import Replica, replica_environment
from tests.fixtures.slack_api import BOT_USER_ID, FakeSlack, Params, running_fake_slack
from tests.fixtures.synapse import PROJECT_ROOT

pytestmark = [pytest.mark.matrix, pytest.mark.postgres]

SECRET = "incident0replicas0secret00000000"
YEAR = datetime.now(UTC).year
OVER_SLACK = f"INC-{YEAR}-0001"
OVER_MATRIX = f"INC-{YEAR}-0002"
SLACK_TITLE = "Ransomware at hospital"
MATRIX_TITLE = "Phishing at the ministry"
LOBBY = "C0LOBBY01"
ALICE, BOB, CARLA = "UALICE", "UBOB", "UCARLA"  # the Team's roster, with Slack ids
WAIT_SECONDS = 30.0  # only a failing run waits this long
TIMEOUT_WAIT = 120.0  # bounds the wait for a page's answer timeout (30 s here)


# ---- the replicas


def on_both_platforms(roster: Roster) -> Roster:
    """The roster with a Slack id beside each Matrix id: `UALICE` for alice."""
    people = [
        person.model_copy(update={"handles": {**person.handles, "slack": f"U{person.id.upper()}"}})
        for person in roster.people
    ]
    return Roster(orgs=roster.orgs, people=people)


def short_ack_policy(folder: Path) -> Path:
    """The policy with an L1 page answered within 30 s (longer than the steps before the
    timeout take), and L1 roles paged at once: the declarer's page as coordinator can time
    out while the analysts are paged."""
    text = (PROJECT_ROOT / "config" / "policy.yaml").read_text(encoding="utf-8")
    shorter = text.replace(
        "L1: {ack_timeout: 30m, parallel: false,", "L1: {ack_timeout: 30s, parallel: true,"
    )
    assert shorter != text
    path = folder / "policy.yaml"
    path.write_text(shorter, encoding="utf-8")
    return path


def environment(
    team: Team, database_url: str, folder: Path, slack: FakeSlack, slack_port: int
) -> dict[str, str]:
    """A replica's settings: the one database, Matrix store and key, its own Slack port."""
    settings = replica_environment(team, database_url, folder)
    roster_file = folder / "roster-both.yaml"
    roster = on_both_platforms(team.roster)
    roster_file.write_text(
        yaml.safe_dump(roster.model_dump(mode="json", exclude_none=True), allow_unicode=True)
    )
    settings.update(
        RRT_ROSTER_FILE=str(roster_file),
        RRT_POLICY_FILE=str(short_ack_policy(folder)),
        RRT_SLACK__BOT_TOKEN="xoxb-replicas",
        RRT_SLACK__MODE="http",
        RRT_SLACK__SIGNING_SECRET=SECRET,
        RRT_SLACK__HTTP_HOST="127.0.0.1",
        RRT_SLACK__HTTP_PORT=str(slack_port),
        RRT_SLACK__API_URL=slack.base_url,
    )
    return settings


def counted(replica: Replica, metric: str, **labels: str) -> float:
    """The sum of a counter's series on the replica's /metrics that carry `labels`."""
    url = f"http://127.0.0.1:{replica.port}/metrics"
    with urllib.request.urlopen(url, timeout=2) as answer:
        text = answer.read().decode()
    wanted = [f'{name}="{value}"' for name, value in labels.items()]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f"{metric}{{") and all(label in line for label in wanted)
    )


async def counted_by_all(replicas: list[Replica], metric: str, **labels: str) -> float:
    counts = [await asyncio.to_thread(counted, r, metric, **labels) for r in replicas]
    return sum(counts)


def states(replica: Replica) -> tuple[str | None, str | None]:
    """(Slack's state, Matrix's state) as the replica reports them."""
    body = replica.health() or {}
    platforms = body.get("platforms", {})
    return platforms.get("slack", {}).get("state"), platforms.get("matrix", {}).get("state")


async def serving(replicas: list[Replica]) -> tuple[Replica, Replica]:
    """(Matrix leader, standby) once both replicas take Slack requests and one syncs."""

    async def settled() -> tuple[Replica, Replica] | None:
        seen = [await asyncio.to_thread(states, replica) for replica in replicas]
        if set(seen) != {("connected", "connected"), ("connected", "standby")}:
            return None
        leader = replicas[[matrix for _, matrix in seen].index("connected")]
        return leader, replicas[1 - replicas.index(leader)]

    try:
        return await eventually(settled, "both replicas serving", WAIT_SECONDS)
    except AssertionError as error:
        logs = "\n".join(replica.output()[-3000:] for replica in replicas)
        raise AssertionError(f"{error}\n{logs}") from None


# ---- what the test process reads from the database


@dataclass
class Record:
    """The shared database as the test reads it, with the replicas' signing key."""

    store: SqlStore

    def handled(self, event_id: str) -> bool:
        return self.store.is_handled("slack", event_id)

    def settled(self) -> bool:
        return not self.store.pending_effects() and not self.store.unhandled()

    def kinds(self, incident_id: str) -> list[str]:
        return [record.event.kind for record in self.store.log(incident_id)]

    def pending_pages(self, incident_id: str) -> list[tuple[str, str]]:
        """(person, role) of the incident's pages waiting for an answer."""
        incident = self.store.get(incident_id)
        if incident is None or incident.team is None:
            return []
        return [(p.person_id, s.role) for s in incident.team.roles for p in s.pending]

    def state(self, incident_id: str) -> State | None:
        incident = self.store.get(incident_id)
        return incident.state if incident is not None else None


async def until(condition: Any, what: str, seconds: float = WAIT_SECONDS) -> None:
    async def holds() -> bool | None:
        return True if condition() else None

    await eventually(holds, what, seconds)


# ---- Slack, behind a load balancer that sends each request to every replica


class Balancer:
    """People acting in Slack. Each request goes to both replicas at once; `again` sends it
    once more to the first, after both answered (a retry). Each action is waited on until the
    bot has handled it and delivered what it decided."""

    def __init__(
        self, http: aiohttp.ClientSession, slack: FakeSlack, ports: list[int], record: Record
    ) -> None:
        self.http = http
        self.slack = slack
        self.ports = ports
        self.record = record
        self._serial = itertools.count(1)
        self.event_ids: list[str] = []  # every event sent, by the id the inbox keeps

    async def _post(self, port: int, body: str, content_type: str) -> None:
        headers = {"Content-Type": content_type, **signed_headers(body, SECRET)}
        url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
        async with self.http.post(url, data=body, headers=headers) as answer:
            assert answer.status == 200, await answer.text()

    async def send(self, event_id: str, body: str, content_type: str, again: bool) -> None:
        self.event_ids.append(event_id)
        await asyncio.gather(*(self._post(port, body, content_type) for port in self.ports))
        if again:
            await self._post(self.ports[0], body, content_type)
        await until(lambda: self.record.handled(event_id), f"{event_id} handled")
        await until(self.record.settled, f"what {event_id} decided delivered")

    async def command(self, user: str, channel: str, text: str, again: bool = False) -> None:
        trigger = f"trig-command-{next(self._serial)}"
        payload = {
            **slash_command(text, trigger),
            "user_id": user,
            "user_name": user.lower(),
            "channel_id": channel,
            "response_url": self.slack.response_url(),
        }
        await self.send(
            f"command:{trigger}", form(payload), "application/x-www-form-urlencoded", again
        )

    async def click(self, user: str, posted: Params, value: str, again: bool = False) -> None:
        trigger = f"trig-click-{next(self._serial)}"
        channel = str(posted["channel"])
        payload = block_action(value, str(posted["ts"]), trigger)
        payload["user"] = {"id": user, "username": user.lower(), "team_id": "T0TEAM001"}
        payload["container"]["channel_id"] = channel
        payload["channel"] = {"id": channel, "name": "war-room"}
        payload["response_url"] = self.slack.response_url()
        payload["actions"][0]["action_id"] = f"rrt_button_{buttons(posted).index(value)}"
        body = interactive_form(payload)
        await self.send(f"action:{trigger}", body, "application/x-www-form-urlencoded", again)

    async def event(self, event: Params, again: bool = False) -> None:
        event_id = f"Ev0REPL{next(self._serial):04d}"
        body = json.dumps(event_callback(event, event_id))
        await self.send(event_id, body, "application/json", again)

    async def reply_in_thread(self, user: str, posted: Params, text: str) -> None:
        reply = message(
            text,
            ts=f"1764490000.{next(self._serial):06d}",
            thread_ts=str(posted["ts"]),
            parent_user_id=BOT_USER_ID,
        )
        await self.event({**reply, "user": user, "channel": posted["channel"]})

    async def react(self, user: str, posted: Params, reaction: str) -> None:
        item = {"type": "message", "channel": posted["channel"], "ts": posted["ts"]}
        await self.event(
            {**reaction_added(reaction, str(posted["ts"])), "user": user, "item": item}
        )

    def posts_in(self, channel: str) -> list[Params]:
        return [posted for posted in self.slack.posted if posted["channel"] == channel]

    def said_in(self, channel: str) -> str:
        return "\n".join(str(posted["text"]) for posted in self.posts_in(channel))

    def question(self, channel: str, question_id: str) -> Params:
        asked = [p for p in self.posts_in(channel) if f" · {question_id}: " in p["text"]]
        assert asked, f"{question_id} was never asked"
        return asked[-1]

    def page(self, user: str, incident_id: str, role: str) -> Params:
        """The latest page in the person's DM, with its Accept / Decline buttons."""
        dm = self.slack.direct_channel(user)
        assert dm is not None, f"{user} was never written to directly"
        accept = f"page accept {incident_id} {role}"
        pages = [p for p in self.posts_in(dm) if accept in buttons(p)]
        assert pages, f"{user} was never paged as {role}"
        return pages[-1]


def buttons(posted: Params) -> list[str]:
    blocks = posted["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [
        element["value"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def slack_user(person_id: str) -> str:
    return f"U{person_id.upper()}"


async def slack_until_timeout(lb: Balancer) -> tuple[str, str, str]:
    """Declared over Slack, the declarer's page as coordinator left unanswered; triaged, a level
    set; the first analyst paged declines, the next accepts; a note and a TLP raise. Returns
    (war room, who declined, who accepted)."""
    record = lb.record
    await lb.command(ALICE, LOBBY, f"declare {SLACK_TITLE}", again=True)
    rooms = [
        c["id"] for c in lb.slack.channels.values() if c["name"].startswith(OVER_SLACK.lower())
    ]
    assert len(rooms) == 1
    (room,) = rooms
    assert record.pending_pages(OVER_SLACK) == [("alice", "coordinator")]

    # Triage: a button, a numbered reply in the question's thread, a keycap reaction, a command.
    await lb.click(CARLA, lb.question(room, "Q1"), "answer Q1 malicious-code", again=True)
    q2 = lb.question(room, "Q2")
    await lb.reply_in_thread(BOB, q2, str(option_number("Q2", "declared")))
    q3 = lb.question(room, "Q3")
    await lb.react(CARLA, q3, SLACK_KEYCAPS[option_number("Q3", "essential") - 1])
    await lb.command(ALICE, room, "answer Q14a yes")  # NIS2: its clocks start
    said = lb.said_in(room)
    for answered in ("Q1 → malicious-code", "Q2 → declared", "Q3 → essential", "Q14a → yes"):
        assert answered in said
    await lb.command(ALICE, room, "level L1 --reason one hospital, care goes on", again=True)
    assert "Level set to L1 by Alice Martin." in lb.said_in(room)

    declining = paged_analyst(record)
    page = lb.page(slack_user(declining), OVER_SLACK, "analyst")
    await lb.click(slack_user(declining), page, f"page decline {OVER_SLACK} analyst", again=True)
    accepting = paged_analyst(record)
    assert accepting != declining
    page = lb.page(slack_user(accepting), OVER_SLACK, "analyst")
    await lb.click(slack_user(accepting), page, f"page accept {OVER_SLACK} analyst", again=True)
    assert record.pending_pages(OVER_SLACK) == [("alice", "coordinator")]

    await lb.command(ALICE, room, "note Backups are offline since 07:00", again=True)
    await lb.command(ALICE, room, "tlp AMBER+STRICT")
    assert "TLP raised" in lb.said_in(room)
    return room, declining, accepting


def paged_analyst(record: Record) -> str:
    (person,) = [p for p, role in record.pending_pages(OVER_SLACK) if role == "analyst"]
    return person


async def slack_to_closing(lb: Balancer, room: str) -> None:
    """The declarer accepts her page as coordinator of the next cycle, then closes."""
    assert lb.record.pending_pages(OVER_SLACK) == [("alice", "coordinator")]
    page = lb.page(ALICE, OVER_SLACK, "coordinator")
    await lb.click(ALICE, page, f"page accept {OVER_SLACK} coordinator", again=True)
    assert lb.record.pending_pages(OVER_SLACK) == []
    assert "Alice Martin accepted coordinator." in lb.said_in(room)
    await lb.command(ALICE, room, "status", again=True)
    await lb.command(ALICE, room, "contain")
    await lb.command(ALICE, room, "resolve", again=True)
    await lb.command(ALICE, room, "close")
    assert lb.record.state(OVER_SLACK) is State.RESOLVED  # the NIS2 reports are unfiled
    await lb.command(ALICE, room, "close confirm", again=True)
    assert lb.record.state(OVER_SLACK) is State.CLOSED


# ---- Matrix, through the leader


async def matrix_incident(team: Team, record: Record) -> tuple[str, dict[str, str]]:
    """Declared with `!incident declare`, pages answered from direct rooms, a note, a level,
    then closed. Returns the war room and, by person paged, their direct room."""
    alice = team.alice
    lobby = await lobby_with_bot(team)
    await alice.say(lobby, f"!incident declare {MATRIX_TITLE}")
    war_room = await join_when_invited(alice, f"{OVER_MATRIX} · {MATRIX_TITLE}")
    watch = RoomWatch(alice, war_room, team.bot_user_id, WAIT_SECONDS)
    asked = await watch.question("Q1")
    directs = {"alice": await accept_page(team, "alice", "coordinator")}
    await watch.message_with("Alice Martin accepted coordinator.")

    await alice.reply(war_room, asked["event_id"], str(option_number("Q1", "abusive-content")))
    await watch.message_with("Q1 → abusive-content (answered by Alice Martin).")
    await alice.say(war_room, "!incident note Three staff reported the mail")
    await watch.message_with(f"Noted in {OVER_MATRIX}.")
    await alice.say(war_room, "!incident level L1 --reason one ministry, no spread")
    await watch.message_with("Level set to L1 by Alice Martin.")

    pending = await eventually(
        lambda: _some(record.pending_pages(OVER_MATRIX)), "the analyst paged", WAIT_SECONDS
    )
    ((analyst, role),) = pending
    assert role == "analyst"
    directs[analyst] = await accept_page(team, analyst, "analyst")
    name = team.roster.person(analyst)
    assert name is not None
    await watch.message_with(f"{name.name} accepted analyst.")

    for command, state in (
        ("contain", State.CONTAINED),
        ("resolve", State.RESOLVED),
        ("close", State.CLOSED),  # no regulatory clock runs
    ):
        await alice.say(war_room, f"!incident {command}")
        await until(lambda s=state: record.state(OVER_MATRIX) is s, f"{OVER_MATRIX} {state}")
    await watch.message_with(f"{OVER_MATRIX} closed by Alice Martin.")
    return war_room, directs


async def _some(found: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    return found or None


async def accept_page(team: Team, person_id: str, role: str) -> str:
    """The paged person joins their direct room with the bot and reacts ✅ to the page in it;
    returns the room."""
    member = team.members[person_id]
    direct = await join_when_invited(member, "")  # unnamed: their direct room with the bot
    watch = RoomWatch(member, direct, team.bot_user_id, WAIT_SECONDS)
    page = await watch.message_with(f"📟 You are paged as {role} for {OVER_MATRIX}")
    await member.react(direct, page["event_id"], "✅")
    await watch.message_with(f"Thank you. You are on {OVER_MATRIX}")
    return direct


async def bot_rooms_named(team: Team, prefix: str) -> list[str]:
    """The rooms the bot is in whose name starts with `prefix`, as the homeserver has them."""

    def read(path: str) -> Any:
        request = urllib.request.Request(
            f"{team.synapse.base_url}/_matrix/client/v3/{path}",
            headers={"Authorization": f"Bearer {team.bot_token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return {}
            raise

    def named() -> list[str]:
        found = []
        for room_id in read("joined_rooms")["joined_rooms"]:
            name = read(f"rooms/{room_id}/state/m.room.name/").get("name", "")
            if name.startswith(prefix):
                found.append(room_id)
        return found

    return await asyncio.to_thread(named)


# ---- the whole run


@pytest.mark.timeout(240)  # a minute of it waits for the page to time out
async def test_two_replicas_on_slack_and_matrix_run_two_incidents_with_everything_once(
    team: Team, cluster: PrivateCluster, tmp_path: Path
) -> None:
    database_url = cluster.create_database(f"incident_{tmp_path.name}".lower())
    key = tmp_path / "log.key"  # as replica_environment names it
    async with running_fake_slack() as slack, aiohttp.ClientSession() as http:
        ports = [free_port(), free_port()]
        replicas = [
            Replica(name, environment(team, database_url, tmp_path, slack, port), tmp_path)
            for name, port in zip(("first", "second"), ports, strict=True)
        ]
        await asyncio.gather(*(replica.start() for replica in replicas))
        store: SqlStore | None = None
        try:
            leader, standby = await serving(replicas)
            store = open_store(database_url, key_file=key)  # the key the replicas made
            record = Record(store)
            lb = Balancer(http, slack, ports, record)

            room, declined, accepted = await slack_until_timeout(lb)
            war_room, directs = await matrix_incident(team, record)
            # The page left unanswered times out: both replicas wake for it, one fires it, and
            # the next cycle pages the declarer again.
            await until(
                lambda: "page_timed_out" in record.kinds(OVER_SLACK),
                "the page timed out",
                TIMEOUT_WAIT,
            )
            await until(record.settled, "what the timeout decided delivered")
            await slack_to_closing(lb, room)
            assert await asyncio.to_thread(states, leader) == ("connected", "connected")
            assert await asyncio.to_thread(states, standby) == ("connected", "standby")
            # Each event was taken by one replica, each effect delivered by one.
            received = await counted_by_all(replicas, "rrt_events_received_total")
            delivered = await counted_by_all(replicas, "rrt_effects_total", outcome="delivered")
            for replica in (standby, leader):  # the standby first: it takes over nothing
                assert await replica.stop(signal.SIGTERM) == 0, replica.output()

            assert_every_event_handled_once(store, lb.event_ids, received)
            assert_slack_course(store, declined, accepted)
            (analyst,) = set(directs) - {"alice"}
            assert_matrix_course(store, analyst)
            assert_timers_fired_once(store)
            assert_effects_attempted_once(store, delivered)
            assert_slack_sent_once(lb, room, declined, accepted)
            await assert_matrix_sent_once(team, war_room, directs)
            reports = tmp_path / "reports"
            for incident in (OVER_SLACK, OVER_MATRIX):
                assert (reports / f"{incident}-report.md").is_file()
            intact, report = verify_report(database_url, key_file=key)
            assert intact, report
        finally:
            if store is not None:
                store.close()
            for replica in replicas:
                if replica.running:
                    await replica.stop(signal.SIGKILL)


# ---- what must have happened once


def assert_every_event_handled_once(
    store: SqlStore, slack_events: list[str], received: float
) -> None:
    with Session(store.engine) as session:
        rows = list(session.exec(select(InboxRow)))
    assert received == len(rows)
    assert [(row.platform, row.event_id) for row in rows if not row.handled] == []
    recorded = Counter((row.platform, row.event_id) for row in rows)
    assert [event for event, times in recorded.items() if times > 1] == []
    assert sorted(e for p, e in recorded if p == "slack") == sorted(slack_events)
    assert any(platform == "matrix" for platform, _ in recorded)


def course(store: SqlStore, incident_id: str) -> list[tuple[str, str, str | None]]:
    """The incident's log as (kind, actor, who or what it concerns)."""
    about = ("person", "question", "to_state", "to_tlp", "level", "platform")
    return [
        (
            record.event.kind,
            record.event.actor,
            next((str(record.event.data[k]) for k in about if k in record.event.data), None),
        )
        for record in store.log(incident_id)
    ]


def assert_slack_course(store: SqlStore, declined: str, accepted: str) -> None:
    """The Slack incident's log, entry by entry, as one process would have written it."""
    assert course(store, OVER_SLACK) == [
        ("declared", "alice", None),
        ("state_changed", "alice", "triage"),
        ("team_assembled", "bot", "L1"),
        ("paged", "bot", "alice"),
        ("war_room_opened", "bot", "slack"),
        ("answered", "carla", "Q1"),
        ("answered", "bob", "Q2"),
        ("answered", "carla", "Q3"),
        ("answered", "alice", "Q14a"),
        ("clock_started", "alice", None),
        ("clock_started", "alice", None),
        ("level_set", "alice", "L1"),
        ("state_changed", "alice", "response"),
        ("checkins_planned", "alice", "L1"),
        ("team_assembled", "bot", "L1"),
        ("paged", "bot", declined),
        ("page_declined", declined, declined),
        ("paged", "bot", accepted),
        ("page_accepted", accepted, accepted),
        ("role_filled", "bot", None),
        ("note", "alice", None),
        ("tlp_changed", "alice", "TLP:AMBER+STRICT"),
        ("page_timed_out", "bot", "alice"),  # the declarer's page as coordinator
        ("paged", "bot", "alice"),  # the next cycle
        ("page_accepted", "alice", "alice"),
        ("role_filled", "bot", None),
        ("state_changed", "alice", "contained"),
        ("state_changed", "alice", "resolved"),
        ("state_changed", "alice", "closed"),
        ("report_written", "bot", None),
    ]
    (written,) = [r.event for r in store.log(OVER_SLACK) if r.event.kind == "report_written"]
    assert written.data["posted_in"] == ["slack"]


def assert_matrix_course(store: SqlStore, analyst: str) -> None:
    """The Matrix incident's log, entry by entry, as one process would have written it."""
    assert course(store, OVER_MATRIX) == [
        ("declared", "alice", None),
        ("state_changed", "alice", "triage"),
        ("team_assembled", "bot", "L1"),
        ("paged", "bot", "alice"),
        ("war_room_opened", "bot", "matrix"),
        ("joined", "alice", "matrix"),
        ("page_accepted", "alice", "alice"),
        ("role_filled", "bot", None),
        ("answered", "alice", "Q1"),
        ("note", "alice", None),
        ("level_set", "alice", "L1"),
        ("state_changed", "alice", "response"),
        ("checkins_planned", "alice", "L1"),
        ("team_assembled", "bot", "L1"),
        ("paged", "bot", analyst),
        ("page_accepted", analyst, analyst),
        ("role_filled", "bot", None),
        ("state_changed", "alice", "contained"),
        ("state_changed", "alice", "resolved"),
        ("state_changed", "alice", "closed"),
        ("report_written", "bot", None),
    ]
    (written,) = [r.event for r in store.log(OVER_MATRIX) if r.event.kind == "report_written"]
    assert written.data["posted_in"] == ["matrix"]


def assert_timers_fired_once(store: SqlStore) -> None:
    fired = store.fired(OVER_SLACK)
    assert [(timer.kind, timer.key.split("/")[:2]) for timer in fired] == [
        ("ack", ["coordinator", "alice"])
    ]
    assert store.fired(OVER_MATRIX) == []


def assert_effects_attempted_once(store: SqlStore, delivered: float) -> None:
    with Session(store.engine) as session:
        rows = list(session.exec(select(OutboxRow)))
    assert delivered == len(rows)
    assert [
        (row.key, row.kind, row.attempts, row.error)
        for row in rows
        if not row.done or row.attempts != 1 or row.error
    ] == []


def assert_slack_sent_once(lb: Balancer, room: str, declined: str, accepted: str) -> None:
    slack = lb.slack
    assert slack.posted_twice() == []
    assert len(slack.calls_to("conversations.create")) == 1
    for person, pages in (("alice", 2), (declined, 1), (accepted, 1)):
        dm = slack.direct_channel(slack_user(person))
        assert dm is not None
        sent = [p for p in lb.posts_in(dm) if "You are paged as" in str(p["text"])]
        assert len(sent) == pages, (person, sent)
    files = sorted(file["filename"] for file in slack.shared_files(room))
    assert files == [f"{OVER_SLACK}-report.html", f"{OVER_SLACK}-report.md"]
    closing = [p for p in lb.posts_in(room) if str(p["text"]).startswith(f"{OVER_SLACK} closed")]
    assert len(closing) == 1


async def assert_matrix_sent_once(team: Team, war_room: str, directs: dict[str, str]) -> None:
    assert await bot_rooms_named(team, OVER_MATRIX) == [war_room]
    said = await team.alice.bot_messages(war_room, team.bot_user_id)
    # The two report files share their caption: told apart by file name.
    sent = Counter((e["content"]["body"], e["content"].get("filename")) for e in said)
    assert [body for body, times in sent.items() if times > 1] == []
    files = sorted(e["content"]["filename"] for e in said if e["content"]["msgtype"] == "m.file")
    assert files == [f"{OVER_MATRIX}-report.html", f"{OVER_MATRIX}-report.md"]
    for person, direct in directs.items():
        member = team.members[person]
        pages = [
            e
            for e in await member.bot_messages(direct, team.bot_user_id)
            if "You are paged as" in e["content"]["body"]
        ]
        assert len(pages) == 1, (person, pages)
