"""Random events sent at once to one incident: the stored snapshot is what its log says.

Answers, label raises, notes, page answers and timers are fired concurrently in random
orders (seeded, so a failure names its seed). Whatever the interleaving, every change the log
records is in the snapshot, and nothing is in the snapshot that the log does not record.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable
from datetime import timedelta

import pytest

from bot.adapters.console import ConsolePlatform
from bot.bootstrap import Bot
from bot.core.clock import FakeClock
from bot.core.events import LogRecord
from bot.core.incident import Incident
from bot.core.projection import Projection, project, stored
from storage.log import verify
from tests.fixtures.triage import WORKED_EXAMPLE
from tests.handlers.conftest import declare

INCIDENT = "INC-2026-0001"
PEOPLE = ["alice", "bob", "carla", "dirk", "erik"]


def projected(records: list[LogRecord]) -> tuple[Projection, Counter[tuple[str, ...]]]:
    """What the log says the incident is now: the projection `rrt log verify` checks, and the
    state of every page."""
    pages: list[list[str]] = []  # [person, role, status]
    status_of = {
        "page_accepted": "accepted",
        "page_declined": "declined",
        "page_timed_out": "timed_out",
        "page_cancelled": "cancelled",
    }
    for record in records:
        data = record.event.data
        if record.event.kind == "paged":
            pages.append([str(data["person"]), str(data["role"]), "paged"])
        elif record.event.kind in status_of and not data.get("not_needed"):
            page = next(p for p in reversed(pages) if p[:2] == [data["person"], data["role"]])
            page[2] = status_of[record.event.kind]
    return project(records), Counter(tuple(p) for p in pages)


def held(incident: Incident) -> tuple[Projection, Counter[tuple[str, ...]]]:
    pages = [
        (page.person_id, page.role, page.status.value)
        for role in (incident.team.roles if incident.team else [])
        for page in role.pages
    ]
    return stored(incident), Counter(pages)


def some_events(
    rng: random.Random, bot: Bot, chat: ConsolePlatform, room: str, clock: FakeClock
) -> list[Awaitable[None]]:
    questions = list(WORKED_EXAMPLE)
    events: list[Awaitable[None]] = []
    for _ in range(rng.randint(6, 14)):
        roll = rng.random()
        who = rng.choice(PEOPLE)
        if roll < 0.45:
            question = rng.choice(questions)
            option = WORKED_EXAMPLE[question] if rng.random() < 0.8 else "unknown"
            events.append(chat.say(who, room, f"answer {question} {option}"))
        elif roll < 0.55:
            label = "tlp red" if rng.random() < 0.2 else "tlp amber+strict"
            events.append(chat.say("alice", room, label))
        elif roll < 0.65:
            events.append(chat.say(who, room, f"note step {rng.randint(1, 99)}"))
        elif roll < 0.9:
            paged = [
                (r.event.data["person"], r.event.data["role"])
                for r in bot.store.log(INCIDENT)
                if r.event.kind == "paged"
            ]
            person, role = rng.choice(paged) if paged and rng.random() < 0.8 else (who, "analyst")
            verb = rng.choice(["accept", "accept", "decline"])
            events.append(chat.say(person, chat.lobby, f"page {verb} {INCIDENT} {role}"))
        else:
            clock.advance(timedelta(minutes=rng.choice([5, 16, 31])))
            events.append(_fire(bot))
    return events


async def _fire(bot: Bot) -> None:
    await bot.scheduler.fire_due()


@pytest.mark.parametrize("seed", range(12))
async def test_the_snapshot_is_what_the_log_says_whatever_the_interleaving(
    seed: int, team_bot: Bot, chat: ConsolePlatform, clock: FakeClock
) -> None:
    rng = random.Random(seed)
    room = await declare(chat)
    triage = [
        chat.say(rng.choice(PEOPLE), room, f"answer {q} {o}") for q, o in WORKED_EXAMPLE.items()
    ]
    rng.shuffle(triage)
    await asyncio.gather(*triage)  # the last of them proposes L2 and pages the team
    for _ in range(3):
        events = some_events(rng, team_bot, chat, room, clock)
        rng.shuffle(events)
        await asyncio.gather(*events)

    incident = team_bot.store.get(INCIDENT)
    assert incident is not None
    assert held(incident) == projected(team_bot.store.log(INCIDENT)), f"seed {seed}"
    assert team_bot.store.unhandled() == []
    assert verify(team_bot.store.engine).ok
