"""Median and p90 of durations, as the annual evaluation reports them.

The median is the usual one: the middle value, or the mean of the two middle values for an even
count. The p90 uses the nearest-rank method: the value at rank ⌈0.9·n⌉ of the sorted values, so
it is always one of the observed values (with one value, that value; with two, the larger).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from statistics import median


def nearest_rank(values: Iterable[timedelta], percent: int) -> timedelta | None:
    ordered = sorted(values)
    if not ordered:
        return None
    rank = -(-percent * len(ordered) // 100)  # ⌈percent·n/100⌉ in integers: no rounding error
    return ordered[max(rank, 1) - 1]


@dataclass(frozen=True, slots=True)
class Spread:
    count: int
    median: timedelta | None
    p90: timedelta | None


def spread(values: Iterable[timedelta]) -> Spread:
    present = list(values)
    middle = (
        timedelta(seconds=median(value.total_seconds() for value in present)) if present else None
    )
    return Spread(count=len(present), median=middle, p90=nearest_rank(present, 90))
