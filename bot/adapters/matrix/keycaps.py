"""Numbered options: Matrix has no buttons, so choices are emoji reactions and numbered replies.

Every option gets one emoji of its own, a key a user can react with: keycaps 1️⃣ to 🔟, then
the clock faces for eleven and twelve (a keycap pair such as 1️⃣1️⃣ is two reactions, not
one), then letters for questionnaires longer than that.
"""

from __future__ import annotations

from bot.port import Button

KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
CLOCK_FACES = ("🕚", "🕛")  # eleven and twelve o'clock
LETTERS = tuple(chr(0x1F1E6 + n) for n in range(26))  # 🇦 … 🇿, regional indicator letters
OPTION_KEYS = KEYCAPS + CLOCK_FACES + LETTERS
ACCEPT_KEYS = frozenset({"✅", "✔"})
DECLINE_KEYS = frozenset({"❌", "✖"})
_VARIATION_SELECTOR = "\ufe0f"  # clients differ on sending it with keycaps


def option_marker(index: int) -> str:
    """The key shown before option `index` (0-based); past the last key, its number."""
    return OPTION_KEYS[index] if index < len(OPTION_KEYS) else f"{index + 1}."


def _bare(key: str) -> str:
    return key.replace(_VARIATION_SELECTOR, "")


def button_for_reaction(key: str, buttons: tuple[Button, ...]) -> Button | None:
    """The option a reaction picks: its key by position, ✅/❌ the first primary/danger one."""
    bare = _bare(key)
    for option_key, button in zip(OPTION_KEYS, buttons, strict=False):
        if _bare(option_key) == bare:
            return button
    if bare in ACCEPT_KEYS:
        return next((button for button in buttons if button.style == "primary"), None)
    if bare in DECLINE_KEYS:
        return next((button for button in buttons if button.style == "danger"), None)
    return None


def button_for_reply(text: str, buttons: tuple[Button, ...]) -> Button | None:
    """The option a reply picks by its number ("2", "2.", or the option's key itself)."""
    choice = text.strip().rstrip(".")
    if choice.isdecimal() and 1 <= int(choice) <= len(buttons):
        return buttons[int(choice) - 1]
    return button_for_reaction(choice, buttons) if choice else None
