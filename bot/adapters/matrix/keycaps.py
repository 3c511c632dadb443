"""Numbered options: Matrix has no buttons, so choices are keycap emoji and numbered replies."""

from __future__ import annotations

from bot.port import Button

KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
ACCEPT_KEYS = frozenset({"✅", "✔"})
DECLINE_KEYS = frozenset({"❌", "✖"})
_VARIATION_SELECTOR = "\ufe0f"  # clients differ on sending it with keycaps


def option_marker(index: int) -> str:
    """The marker shown before option `index` (0-based)."""
    return KEYCAPS[index] if index < len(KEYCAPS) else f"{index + 1}."


def _bare(key: str) -> str:
    return key.replace(_VARIATION_SELECTOR, "")


def button_for_reaction(key: str, buttons: tuple[Button, ...]) -> Button | None:
    """The option a reaction picks: a keycap by position, ✅/❌ the first primary/danger one."""
    bare = _bare(key)
    for keycap, button in zip(KEYCAPS, buttons, strict=False):
        if _bare(keycap) == bare:
            return button
    if bare in ACCEPT_KEYS:
        return next((button for button in buttons if button.style == "primary"), None)
    if bare in DECLINE_KEYS:
        return next((button for button in buttons if button.style == "danger"), None)
    return None


def button_for_reply(text: str, buttons: tuple[Button, ...]) -> Button | None:
    """The option a reply picks by its number ("2", "2.", or the keycap itself)."""
    choice = text.strip().rstrip(".")
    if choice.isdecimal() and 1 <= int(choice) <= len(buttons):
        return buttons[int(choice) - 1]
    return button_for_reaction(choice, buttons) if choice else None
