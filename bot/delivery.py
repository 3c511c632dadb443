"""Delivering the outbox: each committed effect carried out once, in the order it was decided.

An effect is counted as attempted before the platform call and marked done with its result
after it, so that a crash in between shows as an attempt without a result. The platform gets
the effect's key (`bot.port.delivery_key`) to make that repeat a no-op where it can. A
placeholder id in an effect is resolved from the result of the effect that made it, which is
delivered first if it is still pending (a war room opened by a declaration in the lobby).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from bot.core.store import Outbox, StoredEffect
from bot.effects import parse_ref, perform, ref, refs_in, substitute, target_room
from bot.port import ChatPlatform, Outbound, PlatformError, delivery_key, delivery_retried

log = logging.getLogger("rrt.delivery")

T = TypeVar("T")
Offload = Callable[[Callable[[], T]], Awaitable[T]]

# A platform that cannot be reached is tried again this many times before the effect is
# given up (and the people who asked are told); a platform's refusal is final at once.
MAX_ATTEMPTS = 5


class Unresolved(Exception):
    """An effect refers to a result that never came (the effect that made it failed)."""


class TryLater(Exception):
    """The platform could not be reached; the lane stops here and is retried later."""


# Why a classified effect must be withheld (platform, kind, classification, arguments), or None.
Gate = Callable[[str, str, str, Mapping[str, Any]], str | None]


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        platforms: Mapping[str, ChatPlatform],
        offload: Offload[Any],
        gate: Gate | None = None,
    ) -> None:
        self._outbox = outbox
        self._platforms = platforms
        self._offload = offload
        self._gate = gate
        self._locks: dict[int, asyncio.Lock] = {}
        self._notices: list[tuple[StoredEffect, PlatformError]] = []
        # Rooms whose label change the platform refused: nothing classified goes there until
        # a later change succeeds (policy §5: re-configured before anything more is posted).
        self._unmatched: set[tuple[str, str]] = set()

    async def drain(self, lane: str) -> None:
        """Deliver the lane's pending effects in order; raises TryLater when a platform is down."""
        effects: list[StoredEffect] = await self._offload(
            lambda: self._outbox.pending_effects(lane)
        )
        try:
            for effect in effects:
                await self.deliver(effect)
        finally:
            await self._send_notices()

    async def lanes(self) -> list[str]:
        """The lanes that have effects waiting, oldest first."""
        effects: list[StoredEffect] = await self._offload(self._outbox.pending_effects)
        return list(dict.fromkeys(effect.lane for effect in effects))

    async def deliver(self, effect: StoredEffect) -> None:
        lock = self._locks.setdefault(effect.id, asyncio.Lock())
        async with lock:
            try:
                await self._deliver_once(effect)
            finally:
                self._locks.pop(effect.id, None)

    async def _deliver_once(self, effect: StoredEffect) -> None:
        found = await self._offload(lambda: self._outbox.effect(effect.key))
        if found is None or found[2]:
            return  # delivered meanwhile (by the effect that depended on it)
        effect = found[0]
        platform = self._platforms.get(effect.platform)
        if platform is None:
            await self._fail(effect, f"{effect.platform} is not connected")
            return
        try:
            args = substitute(json.loads(effect.payload), await self._resolve(effect))
        except Unresolved as missing:
            await self._fail(effect, str(missing))
            return
        if await self._withheld(effect, args):
            return
        await self._offload(lambda: self._outbox.attempted(effect.id))
        token = delivery_key.set(effect.key)
        retried = delivery_retried.set(effect.attempts > 0)
        try:
            result = await perform(platform, effect.kind, args)
        except PlatformError as error:
            await self._fail(effect, str(error))
            self._tell_origin(effect, error)
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
                self._tell_origin(effect, PlatformError("unreachable", repr(error)))
                return
            raise TryLater(effect.lane) from error
        finally:
            delivery_key.reset(token)
            delivery_retried.reset(retried)
        if effect.kind == "set_access":
            self._unmatched.discard((effect.platform, args["room_id"]))
        refs = {ref(effect.key, name): real for name, real in result.items()}
        await self._offload(lambda: self._outbox.delivered(effect, json.dumps(result), refs))

    async def _withheld(self, effect: StoredEffect, args: Mapping[str, Any]) -> bool:
        """Ask the gate, at the moment of sending; withhold and log what it refuses."""
        gate, about = self._gate, effect.about
        if gate is None or about is None:
            return False
        room = target_room(args)
        if (effect.platform, room) in self._unmatched and effect.kind != "set_access":
            reason: str | None = "its room could not be made to match the incident's label"
        else:
            reason = await self._offload(lambda: gate(effect.platform, effect.kind, about, args))
        if reason is None:
            return False
        incident_id = json.loads(about)["incident_id"]
        log.warning("%s: %s withheld: %s", effect.key, effect.kind, reason)
        await self._offload(lambda: self._outbox.withheld(effect, incident_id, reason))
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

    def _tell_origin(self, effect: StoredEffect, error: PlatformError) -> None:
        """Say in the room the command came from that the platform refused part of it, once,
        after the rest of what it asked for (so that it is the last word there)."""
        origin_event = effect.key.rpartition("#")[0]
        if effect.origin is None or any(
            told.key.rpartition("#")[0] == origin_event for told, _ in self._notices
        ):
            return
        self._notices.append((effect, error))

    async def _send_notices(self) -> None:
        notices, self._notices = self._notices, []
        for effect, error in notices:
            await self._notice(effect, error)

    async def _notice(self, effect: StoredEffect, error: PlatformError) -> None:
        assert effect.origin is not None
        platform = self._platforms.get(effect.origin[0])
        if platform is None:
            return
        reason = (error.detail or error.code).rstrip(".")
        text = (
            f"The chat platform refused part of that: {reason} ({error.code}). "
            "What was recorded is kept."
        )
        try:
            await platform.send(effect.origin[1], Outbound(text=text))
        except Exception as failure:  # nothing more to tell it with
            log.warning("could not report a refused effect in %s: %r", effect.origin[1], failure)
