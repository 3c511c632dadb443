"""The runtime: every inbound event and every due timer is one unit of work.

An event is handled in its lane: the incident it concerns, else a lane of its own. Events of
one lane are decided one at a time in arrival order; lanes run side by side. A decision runs in
a database thread, inside one transaction (snapshot with its version checked, log, timers,
outbox, inbox mark); a stale version is decided again. After the commit the lane's outbox is
delivered, then the next event is taken. The event loop itself never waits for the database.

An event is recorded in the inbox as it arrives (one intake thread, so in arrival order) and
handled later, unless it is for a room whose incident is known and whose lane is idle: then it
is recorded in the transaction that decides it, which starts at once. A sync loop that must
know its events are recorded before it reads on (`enqueue`) always records them first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot.background import Background
from bot.core.store import Decided, StaleIncident, StorageLost, Store, StoredEffect, Timer
from bot.delivery import Deliverer, TryLater
from bot.gate import TlpGate
from bot.observe import Observer, Unobserved
from bot.port import ChatPlatform, Inbound, Outbound
from handlers.context import Refusal, Services
from handlers.dispatch import answer, decode, encode, handle, route, storable
from handlers.timers import fire

log = logging.getLogger("rrt.runtime")
T = TypeVar("T")

DECISION_THREADS = 4
MAX_RETRIES = 20  # a stale version is decided again, up to this many times
RETRY_SECONDS = 5.0  # after a database or platform failure, try again this soon
# Done marks of delivered effects ride in the next decision's transaction; those no decision
# took by then are written on their own.
MARKS_SECONDS = 0.05
SORRY = "Sorry, that failed on our side. It is recorded; nothing already recorded was lost."
NOT_RECORDED = (
    "⚠️ Not recorded: the bot's database is not available ({why}). Nothing changed; "
    "please send it again in a minute."
)
RECORD_LOST = "⚠️ Not recorded: {why}. Nothing changed; tell the bot's operator."
NOT_YET_HANDLED = (
    "⚠️ Recorded, but the bot's database is failing ({why}); it will be handled as soon as "
    "the database is back."
)


class CoroutineSuspended(RuntimeError):
    """A decision awaited real I/O: it must speak only through the recording platforms."""


def run_to_end(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (a decision) to its end, on this thread."""
    try:
        work.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    work.close()
    raise CoroutineSuspended("a decision awaited I/O inside its unit of work")


# What a decision returns: its result, and its lane's pending effects if it committed.
_Decision = tuple[None, list[StoredEffect] | None]


@dataclass
class _Lane:
    lock: asyncio.Lock
    users: int = 0


class Runtime:
    """Takes inbound events (it is every adapter's `on_inbound`) and due timers."""

    def __init__(
        self,
        services: Services,
        store: Store,
        platforms: dict[str, ChatPlatform],
        decision_threads: int = DECISION_THREADS,
    ) -> None:
        self.services = services
        self.store = store
        self.platforms = platforms  # the real ones, for delivery and storage-fault notices
        self._intake = ThreadPoolExecutor(1, thread_name_prefix="rrt-intake")
        self._workers = ThreadPoolExecutor(decision_threads, thread_name_prefix="rrt-db")
        self._lanes: dict[str, _Lane] = {}
        self._background = Background(log, "handling an event")
        self._recovery: asyncio.TimerHandle | None = None
        self._marking: asyncio.TimerHandle | None = None
        self.marks_seconds = MARKS_SECONDS
        self.after_commit: Callable[[], None] | None = None  # the scheduler re-arms here
        # Due timers the last `fire_due` did not fire: fired or being fired by another process.
        self.timers_left = 0
        self._open = asyncio.Event()
        self._open.set()
        self.deliverer = Deliverer(
            store, platforms, self.offload, TlpGate(services, platforms), services.clock
        )
        self.observer: Observer = Unobserved()

    def observe(self, observer: Observer) -> None:
        """Report events and effects to `observer` (metrics) from now on."""
        self.observer = observer
        self.deliverer.observer = observer

    async def offload(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._workers, call)

    async def settle(self, grace: float) -> None:
        """At shutdown: let events and deliveries under way finish, for up to `grace` s;
        what is cut short stays in the inbox or the outbox for the next start."""
        await self._background.settle(grace)

    def close(self) -> None:
        for waiting in (self._recovery, self._marking):
            if waiting is not None:
                waiting.cancel()
        self._intake.shutdown(wait=True)
        self._workers.shutdown(wait=True)

    # Inbound events

    async def __call__(self, inbound: Inbound) -> None:
        """Record the event, handle it and deliver what it decided."""
        inbound = storable(inbound)
        handling = self._decide_at_once(inbound) or await self.accept(inbound)
        if handling is not None:
            await handling

    async def enqueue(self, inbound: Inbound) -> None:
        """Record the event and queue it, without waiting for its handling: a sync loop reads
        on while events of other incidents are decided side by side, each lane in order."""
        await self.accept(inbound)

    def _decide_at_once(self, inbound: Inbound) -> asyncio.Future[None] | None:
        """Handle an event for a known incident's idle lane, recording it in its decision."""
        lane = self.store.known_room(inbound.platform, inbound.room_id)
        if lane is None or lane in self._lanes or not self._open.is_set() or self._recovery:
            return None
        self._lanes[lane] = _Lane(asyncio.Lock(), users=1)  # events behind it queue in order
        return self._background.spawn(self._handle(inbound, lane, reserved=True))

    async def accept(self, inbound: Inbound) -> asyncio.Future[None] | None:
        """Record the event and queue it in its lane; returns its handling (None for a repeat
        or an event that could not be recorded, whose sender has been told)."""
        inbound = storable(inbound)
        loop = asyncio.get_running_loop()
        try:
            fresh, lane = await loop.run_in_executor(self._intake, self._record, inbound)
        except StorageLost as lost:
            log.error("not recording %s %s: %s", inbound.platform, inbound.event_id, lost)
            await self._tell(inbound, RECORD_LOST.format(why=lost))
            return None
        except (SQLAlchemyError, OSError) as error:
            log.error("could not record %s %s: %s", inbound.platform, inbound.event_id, error)
            await self._tell(inbound, NOT_RECORDED.format(why=short_reason(error)))
            return None
        if not fresh:
            return None  # a retry or a duplicate delivery
        self.observer.event_received(inbound.platform, inbound.kind)
        # Queued in the order recorded: the lane lock serves waiters first come, first served.
        return self._background.spawn(self._handle(inbound, lane))

    def hold(self) -> None:
        """Record new events but handle none until `release`: at start, what a crash left
        (effects to deliver, events to handle) goes first."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def _handle(self, inbound: Inbound, lane: str, *, reserved: bool = False) -> None:
        """Handle a recorded event in its lane; `reserved`: one not recorded yet, whose lane
        `_decide_at_once` holds for it."""
        if reserved:
            try:
                await self._in_lane(lane, lambda: self._decide_event(inbound, lane, True), True)
            except StorageLost as lost:
                await self._tell(inbound, RECORD_LOST.format(why=lost))
            except SQLAlchemyError as error:
                await self._tell(inbound, NOT_RECORDED.format(why=short_reason(error)))
            return
        await self._open.wait()
        if self._recovery is not None:
            # Events left unhandled by a database failure go first, oldest first; this one is
            # recorded, so the replay handles it too, in its place.
            self._recovery.cancel()
            self._recovery = None
            await self._replay_or_retry()
            return
        try:
            await self._in_lane(lane, lambda: self._decide_event(inbound, lane))
        except (SQLAlchemyError, StorageLost) as error:  # kept in the inbox for later
            await self._tell(inbound, NOT_YET_HANDLED.format(why=short_reason(error)))

    def _record(self, inbound: Inbound) -> tuple[bool, str]:
        # Routed first: once recorded, a failure must not be told as "not recorded".
        lane = route(self.services, inbound)
        return self.store.record(inbound.platform, inbound.event_id, encode(inbound)), lane

    async def replay(self, received_before: datetime | None = None) -> int:
        """Deliver what was decided but not sent, then handle events recorded but not handled
        (only those received before `received_before`, if given), oldest first. Each is
        skipped if handled meanwhile, here or by another replica. Returns how many there were."""
        await self.drain_outbox()
        pending = await self.offload(lambda: self.store.unhandled(received_before))
        for _platform, _event_id, payload in pending:
            await self._replay_one(decode(payload))
        return len(pending)

    async def _replay_one(self, inbound: Inbound) -> None:
        lane = await self.offload(lambda: route(self.services, inbound))
        await self._in_lane(lane, lambda: self._decide_event(inbound, lane))

    def _decide_event(self, inbound: Inbound, lane: str, record: bool = False) -> _Decision:
        """Decide a recorded event (`record`: record it too, in the same transaction)."""
        started = time.perf_counter()
        origin = f"{inbound.platform}:{inbound.event_id}"
        reply_to = (inbound.platform, inbound.room_id)
        claim = self.deliverer.ready
        committed: Decided | None = None
        handled_here = False

        def unit(decide: Callable[[], Coroutine[Any, Any, None]]) -> None:
            nonlocal committed, handled_here
            with self.store.unit_of_work(
                origin=origin, lane=lane, reply_to=reply_to, claim=claim
            ) as decided:
                handled = self._decide_unhandled(inbound, decide, record)
            committed, handled_here = decided, handled_here or handled

        try:
            self._decided_again(lambda: unit(lambda: handle(self.services, inbound)))
        except Refusal as refusal:  # nothing it wrote is kept: answer, and count it handled
            said = str(refusal)
            unit(lambda: answer(self.services, inbound, said))
        except (SQLAlchemyError, StorageLost):
            raise
        except Exception:
            log.exception("failed to handle %s", origin)
            unit(lambda: answer(self.services, inbound, SORRY))
        if handled_here:  # not a repeat, nor handled meanwhile by another replica
            if record:
                self.observer.event_received(inbound.platform, inbound.kind)
            seconds = time.perf_counter() - started
            self.observer.event_handled(inbound.platform, inbound.kind, seconds)
        return None, committed.effects if committed is not None else None

    def _decide_unhandled(
        self, inbound: Inbound, decide: Callable[[], Coroutine[Any, Any, None]], record: bool
    ) -> bool:
        """Decide the event unless handled already (`record`: recording it); True if it did."""
        event = (inbound.platform, inbound.event_id)
        if record:
            if not self.store.record(*event, encode(inbound), handled=True):
                return False  # a retry or a duplicate delivery
            run_to_end(decide())
            return True
        if self.store.is_handled(*event):
            return False
        run_to_end(decide())
        self.store.mark_handled(*event)
        return True

    def _decided_again(self, decide: Callable[[], T]) -> T:
        for _ in range(MAX_RETRIES):
            try:
                return decide()
            except StaleIncident as stale:
                log.info("decided again: %s", stale)
        return decide()

    # Timers

    async def fire_due(self, now: datetime | None = None) -> list[Timer]:
        """Fire every timer due by `now`, each once, in its incident's lane."""
        moment = now or self.services.clock.now()
        fired: list[Timer] = []
        due = await self.offload(lambda: self.store.due(moment))
        for timer in due:
            won = await self._in_lane(timer.incident_id, lambda t=timer: self._fire(t, moment))  # type: ignore[misc]
            if won:
                fired.append(timer)
        self.timers_left = len(due) - len(fired)
        return fired

    def _fire(self, timer: Timer, now: datetime) -> tuple[bool, list[StoredEffect] | None]:
        def unit(run: bool) -> tuple[bool, list[StoredEffect] | None]:
            with self.store.unit_of_work(
                origin=f"timer:{timer.id}", lane=timer.incident_id, claim=self.deliverer.ready
            ) as decided:
                if not self.store.claim(timer.id, now):
                    return False, None  # fired already, here or by another process
                if run:
                    run_to_end(fire(self.services, timer, now))
            return True, decided.effects

        try:
            return self._decided_again(lambda: unit(True))
        except (SQLAlchemyError, StorageLost):
            raise
        except Exception:  # a failing timer is marked fired rather than firing forever
            log.exception("%s: timer %s %s failed", timer.incident_id, timer.kind, timer.key)
            return unit(False)

    # Lanes and delivery

    async def _in_lane(
        self,
        lane: str,
        decide: Callable[[], tuple[T, list[StoredEffect] | None]],
        reserved: bool = False,
    ) -> T:
        """Decide in the lane, then deliver its pending effects (those the decision read, if
        it committed, else read again). `reserved`: the caller has counted itself a user."""
        entry = self._lanes.setdefault(lane, _Lane(asyncio.Lock()))
        if not reserved:
            entry.users += 1
        try:
            async with entry.lock:
                try:
                    result, pending = await self.offload(decide)
                except (SQLAlchemyError, StorageLost) as error:
                    self._recover_later(error)
                    raise
                if self.after_commit is not None:
                    self.after_commit()
                await self._deliver(lane, pending)
                self._write_marks_soon()
                return result
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._lanes[lane]

    async def _deliver(self, lane: str, pending: list[StoredEffect] | None) -> None:
        try:
            await self.deliverer.drain(lane, pending)
        except TryLater as later:
            self._recover_later(None, later.after)
        except (SQLAlchemyError, StorageLost) as error:
            self._recover_later(error)

    def _write_marks_soon(self, after: float | None = None) -> None:
        if self._marking is None:
            wait = self.marks_seconds if after is None else after
            self._marking = asyncio.get_running_loop().call_later(wait, self._mark)

    def _mark(self) -> None:
        self._marking = None
        self._background.spawn(self._write_marks())

    async def _write_marks(self) -> None:
        try:
            await self.offload(self.store.write_marks)
        except SQLAlchemyError as error:
            # Kept in memory, for the next transaction or this later try: nothing is lost, and
            # there is nothing to recover but them.
            log.warning("delivered effects not marked yet: %s", short_reason(error))
            self._write_marks_soon(RETRY_SECONDS)
        except StorageLost as lost:  # nothing more is written; they are delivered again later
            log.error("delivered effects not marked: %s", lost)

    async def drain_outbox(self) -> None:
        """Deliver every pending effect, lane by lane, each lane in order."""
        for lane in await self.deliverer.lanes():
            await self._in_lane(lane, lambda: (None, None))

    def platform_connected(self) -> None:
        """A platform connected (or came back): deliver what waited for it, in the background."""
        self._background.spawn(self.drain_outbox())

    def _recover_later(self, error: Exception | None, after: float = 0.0) -> None:
        """After a failure, try again soon (not before `after` seconds, when a platform asks
        for longer): pending effects, then unhandled events."""
        if error is not None:
            log.error("database failure: %s", error)
        if self._recovery is not None:
            return
        loop = asyncio.get_running_loop()
        self._recovery = loop.call_later(max(RETRY_SECONDS, after), self._recover)

    def _recover(self) -> None:
        self._recovery = None
        self._background.spawn(self._replay_or_retry())

    async def _replay_or_retry(self) -> None:
        try:
            await self.replay()
        except (SQLAlchemyError, StorageLost) as error:
            if self._recovery is None:  # still failing: again later, until it is back
                self._recover_later(error)

    async def _tell(self, inbound: Inbound, text: str) -> None:
        """Speak straight to the platform: used only when the database cannot take an effect."""
        platform = self.platforms.get(inbound.platform)
        if platform is None:
            return
        try:
            await platform.send(inbound.room_id, Outbound(text=text))
        except Exception as error:
            log.warning("could not tell %s: %r", inbound.room_id, error)


def short_reason(error: BaseException) -> str:
    """The first line of what went wrong (the driver's words for a database error)."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0][:120] if lines else type(error).__name__
