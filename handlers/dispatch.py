"""The one entry point for every platform: record the event, resolve who and where, dispatch.

Every inbound event is recorded in the inbox before the bot acts on it, so a crash never loses
an accepted command; events already seen are dropped, so nothing is handled twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from bot.core.commands import Declare, ParseError, parse
from bot.core.store import Inbox
from bot.port import Inbound, InboundKind, Outbound, PlatformError
from handlers.context import Context, Refusal, Services, log
from handlers.marking import speaking
from handlers.registry import HANDLERS, command_name, usage
from handlers.replies import answer_text

NOT_ON_ROSTER = "You are not on this bot's roster. Ask a coordinator to add you."


def encode(inbound: Inbound) -> str:
    return json.dumps(asdict(inbound), ensure_ascii=False)


def decode(payload: str) -> Inbound:
    data = json.loads(payload)
    data["kind"] = InboundKind(data["kind"])
    return Inbound(**data)


class Dispatcher:
    def __init__(self, services: Services, inbox: Inbox) -> None:
        self.services = services
        self.inbox = inbox

    async def __call__(self, inbound: Inbound) -> None:
        if not self.inbox.record(inbound.platform, inbound.event_id, encode(inbound)):
            return  # a retry or a duplicate delivery: already handled or being handled
        await self._handle_and_mark(inbound)

    async def replay(self) -> int:
        """Handle events recorded before a crash but never handled. Returns how many."""
        pending = self.inbox.unhandled()
        for _platform, _event_id, payload in pending:
            await self._handle_and_mark(decode(payload))
        return len(pending)

    async def _handle_and_mark(self, inbound: Inbound) -> None:
        try:
            await self.handle(inbound)
        finally:
            self.inbox.mark_handled(inbound.platform, inbound.event_id)

    async def handle(self, inbound: Inbound) -> None:
        services = self.services
        if inbound.platform not in services.platforms or inbound.kind is InboundKind.JOINED:
            return
        incident = services.store.by_room(inbound.platform, inbound.room_id)
        text = answer_text(services, inbound, incident)
        if text is None:
            return  # chatter, or a reaction that answers nothing
        person = services.roster.by_handle(inbound.platform, inbound.user_id)
        if person is None:
            try:
                platform = speaking(services.platforms[inbound.platform], incident)
                await platform.send(inbound.room_id, Outbound(text=NOT_ON_ROSTER))
            except PlatformError as error:
                log.warning("could not answer an unknown user: %s", error)
            return
        ctx = Context(services=services, inbound=inbound, person=person, incident=incident)
        parsed = parse(text)
        if isinstance(parsed, ParseError):
            hint = f"\nUsage: `{usage(parsed.command)}`" if parsed.command else ""
            await _safe_reply(ctx, parsed.reason + hint)
            return
        handler = HANDLERS[command_name(parsed)]
        try:
            if isinstance(parsed, Declare):
                await handler(ctx, parsed)  # replayed in full: a declaration resumes
            else:
                # Once its first effect is written the command counts as handled, so a replay
                # after a crash never writes that effect twice.
                with self.inbox.handling(inbound.platform, inbound.event_id):
                    await handler(ctx, parsed)
        except Refusal as refusal:
            await _safe_reply(ctx, str(refusal))
        except PlatformError as error:
            log.warning("platform error handling %s: %s", inbound.event_id, error)
            reason = (error.detail or error.code).rstrip(".")
            await _safe_reply(
                ctx,
                f"The chat platform refused that: {reason} ({error.code}). "
                "What was recorded is kept.",
            )
        except Exception:
            log.exception("failed to handle %s %s", inbound.platform, inbound.event_id)
            await _safe_reply(
                ctx,
                "Sorry, that failed on our side. It is recorded; "
                "nothing already recorded was lost.",
            )


async def _safe_reply(ctx: Context, text: str) -> None:
    try:
        await ctx.reply(text)
    except PlatformError as error:
        log.warning("could not reply in %s: %s", ctx.inbound.room_id, error)
