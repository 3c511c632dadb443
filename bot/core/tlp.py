"""Traffic Light Protocol 2.0 labels, ordered from least to most restricted."""

from __future__ import annotations

from enum import Enum


class TLP(Enum):
    CLEAR = "TLP:CLEAR"
    GREEN = "TLP:GREEN"
    AMBER = "TLP:AMBER"
    AMBER_STRICT = "TLP:AMBER+STRICT"
    RED = "TLP:RED"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def is_above(self, other: TLP) -> bool:
        """True when this label is more restricted than `other`."""
        return self.rank > other.rank

    def allows(self, max_tlp: TLP) -> bool:
        """May a person cleared up to `max_tlp` see content under this label?"""
        return not self.is_above(max_tlp)

    @classmethod
    def parse(cls, text: str) -> TLP:
        """Accept `TLP:AMBER+STRICT`, `amber+strict`, `amber-strict`, `red`, ... ."""
        key = text.strip().upper().removeprefix("TLP:").replace("-", "+").replace("_", "+")
        for label in cls:
            if label.value.removeprefix("TLP:") == key:
                return label
        choices = ", ".join(label.value for label in cls)
        raise ValueError(f"unknown TLP label {text!r}; use one of {choices}")


_ORDER = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
DEFAULT_TLP = TLP.AMBER
