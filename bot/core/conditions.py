"""A tiny, safe condition language for policy data: `S >= 55`, `Q3 = 4`, `Q9 >= 3`.

Rules in YAML are lists of alternatives, each a list of conditions that must all hold
(disjunctive normal form), so editors never write code and nothing is evaluated with eval().
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
}
_ATOM = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(>=|<=|==|!=|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class Condition:
    variable: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _ATOM.match(text)
        if match is None:
            raise ValueError(f"not a condition: {text!r} (expected e.g. 'Q3 >= 2' or 'S >= 55')")
        variable, op, value = match.groups()
        return cls(variable, "=" if op == "==" else op, float(value))

    def holds(self, values: Mapping[str, float]) -> bool:
        """False when the variable has no value (an unanswered question never matches)."""
        current = values.get(self.variable)
        return current is not None and _OPS[self.op](current, self.value)

    def __str__(self) -> str:
        number = int(self.value) if self.value.is_integer() else self.value
        return f"{self.variable} {self.op} {number}"


Clause = tuple[Condition, ...]


def parse_rule(alternatives: Sequence[Sequence[str]]) -> tuple[Clause, ...]:
    return tuple(tuple(Condition.parse(atom) for atom in clause) for clause in alternatives)


def first_matching(rule: Sequence[Clause], values: Mapping[str, float]) -> Clause | None:
    for clause in rule:
        if all(condition.holds(values) for condition in clause):
            return clause
    return None


def describe(clause: Clause) -> str:
    return " and ".join(str(condition) for condition in clause)
