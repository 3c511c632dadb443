"""The emoji that stand for numbered options, for a reaction or a reply instead of a button.

Every option gets one emoji of its own, a key a user can react with: keycaps 1️⃣ to 🔟, then
the clock faces for eleven and twelve (a keycap pair such as 1️⃣1️⃣ is two reactions, not
one), then letters for questionnaires longer than that.
"""

from __future__ import annotations

KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
CLOCK_FACES = ("🕚", "🕛")  # eleven and twelve o'clock
LETTERS = tuple(chr(0x1F1E6 + n) for n in range(26))  # 🇦 … 🇿, regional indicator letters
OPTION_KEYS = KEYCAPS + CLOCK_FACES + LETTERS
_VARIATION_SELECTOR = "\ufe0f"  # clients differ on sending it with keycaps


def bare(key: str) -> str:
    """The key without its variation selector, to compare what clients send."""
    return key.strip().replace(_VARIATION_SELECTOR, "")


def option_number(key: str) -> int | None:
    """The 1-based number of the option a key stands for, or None when it is no option key."""
    found = bare(key)
    return next((n for n, option in enumerate(OPTION_KEYS, 1) if bare(option) == found), None)
