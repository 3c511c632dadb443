"""Escalation levels (policy §1)."""

from __future__ import annotations

from enum import Enum


class Level(Enum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"

    @property
    def rank(self) -> int:
        return int(self.value[1])

    @property
    def title(self) -> str:
        return _TITLES[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        key = text.strip().upper()
        if key in {"1", "2", "3"}:
            key = "L" + key
        try:
            return cls(key)
        except ValueError:
            raise ValueError(f"unknown level {text!r}; use L1, L2 or L3") from None


_TITLES = {
    Level.L1: "cyber incident",
    Level.L2: "national cyber security incident",
    Level.L3: "national cyber security crisis",
}


def highest(*levels: Level | None) -> Level | None:
    present = [level for level in levels if level is not None]
    return max(present, key=lambda level: level.rank) if present else None
