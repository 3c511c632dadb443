"""Delivering the outbox: each committed effect carried out once, in the order it was decided.

An effect is counted as attempted before the platform call and marked done with its result
after it, so that a crash in between shows as an attempt without a result. The platform gets
the effect's key (`bot.port.delivery_key`) to make that repeat a no-op where it can. A
placeholder id in an effect is resolved from the result of the effect that made it, which is
delivered first if it is still pending (a war room opened by a declaration in the lobby).

A failed effect does not stop the others: what does not need its result is still delivered (a
declaration's war room, pages and triage go on when the reply in the lobby fails). A platform
that is down or limiting the bot is tried again later, in order; a war room is waited for as
long as that lasts, since everything about its incident needs it. A platform that is not
connected yet (or is reconnecting) is not tried at all: its effects wait, uncounted, and go
out in order once it is connected; the other platforms' effects go on meanwhile.

Replicas sharing a PostgreSQL database drain the same outbox: an effect is claimed before it
is performed, and one another replica is performing is waited for, or tried again later. The
effects a unit of work wrote claimed for this process (its lane had nothing older waiting) are
performed without reading or claiming them again while their claim lasts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from bot.core.clock import Clock, SystemClock
from bot.core.incident import Incident
from bot.core.store import Outbox, StoredEffect
from bot.effects import parse_ref, perform, ref, refs_in, substitute, target_room
from bot.observe import Observer, Unobserved
from bot.port import (
    AnswersPrivately,
    ChatPlatform,
    Outbound,
    PlatformError,
    delivery_key,
    delivery_origin,
    delivery_retried,
)

log = logging.getLogger("rrt.delivery")

T = TypeVar("T")
Offload = Callable[[Callable[[], T]], Awaitable[T]]

# A platform that cannot be reached (or is down, or limiting the bot) is tried again this many
# times before the effect is given up and the people who asked are told; a war room is tried
# until it is made. A platform's refusal is final at once.
MAX_ATTEMPTS = 5
# Seconds before the next try of an effect the platform could not do yet, doubling per
# attempt up to the cap (or longer if the platform asked for longer).
BACKOFF_FIRST, BACKOFF_CAP = 1.0, 300.0
# How long to wait, polling, for an effect another replica is delivering.
OTHER_POLLS, OTHER_POLL_SECONDS = 40, 0.05
# A claim this close to running out is renewed before the platform call.
CLAIM_MARGIN = timedelta(seconds=15)
# Effects finished here lately, remembered so that one delivered ahead of its turn (as what
# another effect needs) is not performed again when its turn comes.
FINISHED_KEPT = 1000


class Unresolved(Exception):
    """An effect refers to a result that never came (the effect that made it failed)."""


class _Held(Exception):
    """The effect's platform (or that of an effect it needs) is not connected: it waits."""


class _Elsewhere(_Held):
    """Another process sharing the database delivers the effect and has not finished yet."""


class TryLater(Exception):
    """The platform could not be reached; the lane stops here and is retried later, in `after`
    seconds at the soonest."""

    def __init__(self, lane: str, after: float = 0.0) -> None:
        super().__init__(lane)
        self.after = after


@dataclass(frozen=True)
class _Notice:
    effect: StoredEffect
    error: PlatformError
    waiting: bool  # it is tried again later
    about_origin: bool  # the room the event came from is what failed


class Gate(Protocol):
    def check(
        self,
        platform: str,
        kind: str,
        about: str,
        args: Mapping[str, Any],
        incident: Incident | None = None,
    ) -> str | None:
        """Why the effect (its platform, kind, classification, arguments) must be withheld,
        or None; it reads the incident unless given it."""
        ...

    def at_hand(self, about: str) -> Incident | None:
        """The effect's incident when it is had without I/O (then `check` runs on the event
        loop; else in a database thread)."""
        ...


# Whether a platform is connected now; when it connects, whoever runs it drains the outbox.
Ready = Callable[[str], bool]


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        platforms: Mapping[str, ChatPlatform],
        offload: Offload[Any],
        gate: Gate | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._outbox = outbox
        self._platforms = platforms
        self._offload = offload
        self._gate = gate
        self._clock = clock or SystemClock()
        self._locks: dict[int, asyncio.Lock] = {}
        self._finished: dict[int, None] = {}  # oldest first
        self._notices: list[_Notice] = []
        # Rooms whose label change the platform refused: nothing classified goes there until
        # a later change succeeds (policy §5: re-configured before anything more is posted).
        self._unmatched: set[tuple[str, str]] = set()
        self.observer: Observer = Unobserved()
        self.ready: Ready = lambda platform: True

    async def drain(self, lane: str, pending: list[StoredEffect] | None = None) -> None:
        """Deliver the lane's pending effects in order (`pending`, as the unit of work that
        just committed read them, else read now); raises TryLater when a platform is down."""
        effects: list[StoredEffect] = (
            pending
            if pending is not None
            else await self._offload(lambda: self._outbox.pending_effects(lane))
        )
        held: set[str] = set()  # once one effect of a platform waits, its later ones wait too
        elsewhere = False
        try:
            for effect in effects:
                if effect.platform in held:
                    continue
                try:
                    await self.deliver(effect)
                except _Held as waiting:
                    held.add(effect.platform)
                    elsewhere = elsewhere or isinstance(waiting, _Elsewhere)
        finally:
            await self._send_notices()
        if elsewhere:  # what waits behind it is tried again later
            raise TryLater(lane)

    async def lanes(self) -> list[str]:
        """The lanes that have effects waiting, oldest first."""
        effects: list[StoredEffect] = await self._offload(self._outbox.pending_effects)
        return list(dict.fromkeys(effect.lane for effect in effects))

    async def deliver(self, effect: StoredEffect) -> None:
        lock = self._locks.setdefault(effect.id, asyncio.Lock())
        async with lock:
            try:
                if effect.id not in self._finished:
                    await self._deliver_once(effect)
                    self._finish(effect.id)
            finally:
                self._locks.pop(effect.id, None)

    def _finish(self, effect_id: int) -> None:
        self._finished[effect_id] = None
        if len(self._finished) > FINISHED_KEPT:
            del self._finished[next(iter(self._finished))]

    def _claimed_here(self, effect: StoredEffect) -> bool:
        """Whether the unit of work that wrote the effect claimed it here, for long enough."""
        until = effect.claimed_until
        return until is not None and self._clock.now() < until - CLAIM_MARGIN

    async def _deliver_once(self, effect: StoredEffect) -> None:
        claimed = self._claimed_here(effect)
        if not claimed:
            found = await self._offload(lambda: self._outbox.effect(effect.key))
            if found is None or found[2]:
                return  # delivered meanwhile (by the effect that depended on it)
            effect = found[0]
        platform = self._platforms.get(effect.platform)
        if platform is None:
            await self._fail(effect, f"{effect.platform} is not connected")
            return
        if not self.ready(effect.platform):
            raise _Held(effect.platform)
        try:
            args = substitute(json.loads(effect.payload), await self._resolve(effect))
        except Unresolved as missing:
            await self._fail(effect, str(missing))
            return
        if await self._withheld(effect, args):
            return
        if not claimed and not await self._offload(lambda: self._outbox.attempted(effect.id)):
            await self._wait_for_other(effect)
            return
        token = delivery_key.set(effect.key)
        retried = delivery_retried.set(effect.attempts > 0)
        origin = delivery_origin.set(_origin_event(effect))
        try:
            result = await perform(platform, effect.kind, args)
        except PlatformError as error:
            if error.retry_after is not None and (
                effect.kind == "create_room" or effect.attempts + 1 < MAX_ATTEMPTS
            ):
                log.warning(
                    "%s: %s failed (attempt %d), tried again later: %s",
                    effect.key,
                    effect.kind,
                    effect.attempts + 1,
                    error,
                )
                if effect.attempts == 0:  # told once that it waits
                    self._tell_origin(effect, error, args, waiting=True)
                backoff = min(BACKOFF_FIRST * 2**effect.attempts, BACKOFF_CAP)
                raise TryLater(effect.lane, max(error.retry_after, backoff)) from error
            await self._fail(effect, str(error))
            self._tell_origin(effect, error, args)
            if effect.kind == "set_access":  # the room does not match its label
                self._unmatched.add((effect.platform, args["room_id"]))
            return
        except Exception as error:  # the platform did not answer: try again later
            log.warning(
                "%s: %s failed (attempt %d): %r",
                effect.key,
                effect.kind,
                effect.attempts + 1,
                error,
            )
            if effect.attempts + 1 >= MAX_ATTEMPTS:
                await self._fail(effect, repr(error))
                self._tell_origin(
                    effect, PlatformError("unreachable", repr(error), retry_after=0.0), args
                )
                return
            raise TryLater(effect.lane) from error
        finally:
            delivery_key.reset(token)
            delivery_retried.reset(retried)
            delivery_origin.reset(origin)
        if effect.kind == "set_access":
            self._unmatched.discard((effect.platform, args["room_id"]))
        refs = {ref(effect.key, name): real for name, real in result.items()}
        made = json.dumps(result)
        if self._outbox.marked_in_memory(effect, refs):
            self._outbox.delivered(effect, made, refs)
        else:
            await self._offload(lambda: self._outbox.delivered(effect, made, refs))
        self.observer.effect_done(effect.platform, effect.kind, "delivered")

    async def _wait_for_other(self, effect: StoredEffect) -> None:
        """Another replica is delivering the effect: wait a little for it to finish, as it
        usually does at once; raises _Elsewhere if it has not (it may have died: its claim
        runs out and the effect is tried again)."""
        for _ in range(OTHER_POLLS):
            found = await self._offload(lambda: self._outbox.effect(effect.key))
            if found is None or found[2]:
                return
            await asyncio.sleep(OTHER_POLL_SECONDS)
        raise _Elsewhere(effect.platform)

    async def _withheld(self, effect: StoredEffect, args: Mapping[str, Any]) -> bool:
        """Ask the gate, at the moment of sending; withhold and log what it refuses."""
        gate, about = self._gate, effect.about
        if gate is None or about is None:
            return False
        room = target_room(args)
        if (effect.platform, room) in self._unmatched and effect.kind != "set_access":
            reason: str | None = "its room could not be made to match the incident's label"
        else:
            incident = gate.at_hand(about)
            reason = (
                gate.check(effect.platform, effect.kind, about, args, incident)
                if incident is not None
                else await self._offload(
                    lambda: gate.check(effect.platform, effect.kind, about, args)
                )
            )
        if reason is None:
            return False
        incident_id = json.loads(about)["incident_id"]
        log.warning("%s: %s withheld: %s", effect.key, effect.kind, reason)
        await self._offload(lambda: self._outbox.withheld(effect, incident_id, reason))
        self.observer.effect_done(effect.platform, effect.kind, "withheld")
        return True

    async def _resolve(self, effect: StoredEffect) -> dict[str, str]:
        real: dict[str, str] = {}
        for placeholder in refs_in(json.loads(effect.payload)):
            parsed = parse_ref(placeholder)
            assert parsed is not None
            key, name = parsed
            found = await self._offload(lambda key=key: self._outbox.effect(key))  # type: ignore[misc]
            if found is not None and not found[2]:
                await self.deliver(found[0])
                found = await self._offload(lambda key=key: self._outbox.effect(key))  # type: ignore[misc]
            result = json.loads(found[1]) if found is not None and found[1] else {}
            if name not in result:
                raise Unresolved(f"{effect.kind} needs the result of {key}, which failed")
            real[placeholder] = result[name]
        return real

    async def _fail(self, effect: StoredEffect, why: str) -> None:
        log.warning("%s: %s given up: %s", effect.key, effect.kind, why)
        await self._offload(lambda: self._outbox.failed(effect.id, why))
        self.observer.effect_done(effect.platform, effect.kind, "failed")

    def _tell_origin(
        self,
        effect: StoredEffect,
        error: PlatformError,
        args: Mapping[str, Any],
        *,
        waiting: bool = False,
    ) -> None:
        """Tell whoever sent the event that the platform refused or could not do part of it,
        once, after the rest of what it asked for (so that it is the last word there)."""
        origin_event = _origin_event(effect)
        if effect.origin is None or any(
            _origin_event(told.effect) == origin_event for told in self._notices
        ):
            return
        about_origin = error.about_room and target_room(args) == effect.origin[1]
        self._notices.append(_Notice(effect, error, waiting, about_origin))

    async def _send_notices(self) -> None:
        notices, self._notices = self._notices, []
        for notice in notices:
            token = delivery_origin.set(_origin_event(notice.effect))
            try:
                await self._notice(notice)
            finally:
                delivery_origin.reset(token)

    async def _notice(self, notice: _Notice) -> None:
        effect, error = notice.effect, notice.error
        assert effect.origin is not None
        platform = self._platforms.get(effect.origin[0])
        if platform is None:
            return
        message = Outbound(text=notice_text(error, waiting=notice.waiting))
        private = platform if isinstance(platform, AnswersPrivately) else None
        try:
            # An error about the room itself is not posted in it: only its sender is told.
            if (
                notice.about_origin
                and private
                and await private.answer_privately(effect.origin[1], message)
            ):
                return
            await platform.send(effect.origin[1], message)
        except Exception as failure:  # nothing more to tell it with
            log.warning("could not report a failed effect in %s: %r", effect.origin[1], failure)


def notice_text(error: PlatformError, *, waiting: bool = False) -> str:
    """What the sender of an event reads when part of what it asked for failed."""
    reason = f"{(error.detail or error.code).rstrip('.')} ({error.code})"
    if error.retry_after is None:
        return f"The chat platform refused part of that: {reason}. What was recorded is kept."
    if waiting:
        return (
            f"The chat platform could not do part of that yet: {reason}. The bot keeps "
            "trying and carries on as soon as it answers; what was recorded is kept."
        )
    return (
        f"The chat platform could not do part of that: {reason}. What was recorded is kept; "
        "try again in a few minutes."
    )


def _origin_event(effect: StoredEffect) -> str:
    """The event or timer whose unit of work decided the effect (its key is `<origin>#<n>`)."""
    return effect.key.rpartition("#")[0]
