"""Turn replies, numbers and reactions into the command they stand for."""

from __future__ import annotations

from bot.core.incident import Incident
from bot.core.option_keys import option_number
from bot.port import Inbound, InboundKind
from handlers.context import Services
from handlers.team_flow import PAGE_KEY
from handlers.triage_flow import TRIAGE_KEY

SLACK_KEYCAPS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "keycap_ten",
]


def reaction_number(reaction: str) -> int | None:
    """1-based option number for a reaction: an option key, or a keycap by Slack's name."""
    name = reaction.strip().strip(":")
    if name in SLACK_KEYCAPS:
        return SLACK_KEYCAPS.index(name) + 1
    return option_number(name)


PAGE_CHOICES = {"1": "accept", "accept": "accept", "2": "decline", "decline": "decline"}


def answer_text(services: Services, inbound: Inbound, incident: Incident | None) -> str | None:
    """The command text an inbound event stands for, or None when it asks nothing of the bot."""
    page = _page_answer(services, inbound)
    if page is not None:
        return page
    prompt_question = _prompted_question(services, inbound)
    if inbound.kind is InboundKind.REACTION:
        number = reaction_number(inbound.reaction)
        if prompt_question is None or number is None:
            return None
        return f"answer {prompt_question} {number}"
    text = inbound.text.strip()
    if prompt_question is not None and inbound.kind is InboundKind.TEXT:
        words = text.split()
        if len(words) == 1 and not words[0].lower().startswith("answer"):
            return f"answer {prompt_question} {words[0]}"
    if not inbound.addressed and inbound.kind is InboundKind.TEXT:
        return None
    return text


def _page_answer(services: Services, inbound: Inbound) -> str | None:
    """A reaction 1/2 or a reply `1`/`2`/`accept`/`decline` to a page's direct message."""
    if inbound.target_message_id is None or inbound.kind is InboundKind.BUTTON:
        return None
    bound = services.store.prompt(inbound.platform, inbound.target_message_id)
    if bound is None or not bound[1].startswith(PAGE_KEY):
        return None
    if inbound.kind is InboundKind.REACTION:
        number = reaction_number(inbound.reaction)
        choice = PAGE_CHOICES.get(str(number))
    else:
        choice = PAGE_CHOICES.get(inbound.text.strip().lower())
    if choice is None:
        return None
    return f"page {choice} {bound[0]} {bound[1].removeprefix(PAGE_KEY)}"


def _prompted_question(services: Services, inbound: Inbound) -> str | None:
    if inbound.target_message_id is None:
        return None
    bound = services.store.prompt(inbound.platform, inbound.target_message_id)
    if bound is None or not bound[1].startswith(TRIAGE_KEY):
        return None
    return bound[1].removeprefix(TRIAGE_KEY)
