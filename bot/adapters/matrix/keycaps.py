"""Numbered options: Matrix has no buttons, so choices are emoji reactions and numbered replies.

Each option is shown with its key (`bot.core.option_keys`); ✅ and ❌ also pick the primary
and the danger option.
"""

from __future__ import annotations

from bot.core.option_keys import OPTION_KEYS, bare, option_number
from bot.port import Button

ACCEPT_KEYS = frozenset({"✅", "✔"})
DECLINE_KEYS = frozenset({"❌", "✖"})


def option_marker(index: int) -> str:
    """The key shown before option `index` (0-based); past the last key, its number."""
    return OPTION_KEYS[index] if index < len(OPTION_KEYS) else f"{index + 1}."


def button_for_reaction(key: str, buttons: tuple[Button, ...]) -> Button | None:
    """The option a reaction picks: its key by position, ✅/❌ the first primary/danger one."""
    number = option_number(key)
    if number is not None:
        return buttons[number - 1] if number <= len(buttons) else None
    if bare(key) in ACCEPT_KEYS:
        return next((button for button in buttons if button.style == "primary"), None)
    if bare(key) in DECLINE_KEYS:
        return next((button for button in buttons if button.style == "danger"), None)
    return None


def button_for_reply(text: str, buttons: tuple[Button, ...]) -> Button | None:
    """The option a reply picks by its number ("2", "2.", or the option's key itself)."""
    choice = text.strip().rstrip(".")
    if choice.isdecimal() and 1 <= int(choice) <= len(buttons):
        return buttons[int(choice) - 1]
    return button_for_reaction(choice, buttons) if choice else None
