"""The evaluation's charts as PNG bytes: matplotlib's Agg canvas, no display and no pyplot state.

matplotlib is imported only when a chart is drawn: it is large, and most commands draw none.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.reporting.evaluation import ALL, Evaluation, Section
from bot.reporting.evaluation_stats import Spread

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LEVEL_COLOURS = {"L1": "#4C78A8", "L2": "#F58518", "L3": "#E45756", "unset": "#9D9D9D"}
MEDIAN_COLOUR, P90_COLOUR = "#4C78A8", "#B8C9DE"


@dataclass(frozen=True, slots=True)
class Chart:
    name: str  # file name part, e.g. "incidents"
    title: str
    png: bytes


def _label(section: Section) -> str:
    return "Exercises" if section.exercise else "Real incidents"


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # attaches the Agg canvas: no display needed
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _two_panels(draw: Callable[[Axes, Section], None], evaluation: Evaluation) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    for axes, section in zip(figure.subplots(1, 2), evaluation.sections, strict=True):
        axes.set_title(_label(section))
        draw(axes, section)
    return _png(figure)


def _stacked_months(axes: Axes, section: Section) -> None:
    from matplotlib.ticker import MaxNLocator

    bottom = [0] * 12
    for level, counts in section.per_month.items():
        axes.bar(MONTHS, counts, bottom=bottom, label=level, color=LEVEL_COLOURS[level])
        bottom = [below + count for below, count in zip(bottom, counts, strict=True)]
    axes.set_ylim(0, max([1, *bottom]))  # an empty year still shows a sensible axis
    axes.set_ylabel("incidents")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="x", labelsize=8)
    axes.legend(fontsize=8)


def _minutes(value: timedelta | None) -> float:
    return value.total_seconds() / 60 if value is not None else 0.0


def _paired_bars(axes: Axes, labels: list[str], spreads: list[Spread], unit: str) -> None:
    if not labels:
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    positions = range(len(labels))
    medians = [_minutes(s.median) for s in spreads]
    p90s = [_minutes(s.p90) for s in spreads]
    axes.bar([x - 0.2 for x in positions], medians, 0.4, label="median", color=MEDIAN_COLOUR)
    axes.bar([x + 0.2 for x in positions], p90s, 0.4, label="p90", color=P90_COLOUR)
    axes.set_xticks(positions, labels, fontsize=8)
    axes.set_ylabel(unit)
    axes.legend(fontsize=8)


def _response_times(axes: Axes, section: Section) -> None:
    labels, spreads = [], []
    for level, figures in section.by_level.items():
        if level == ALL:
            continue
        for what, value in (("triage", figures.time_to_triage), ("team", figures.time_to_team)):
            if value.count:
                labels.append(f"{level}\n{what}")
                spreads.append(value)
    _paired_bars(axes, labels, spreads, "minutes")


def _ack_latency(axes: Axes, section: Section) -> None:
    by_org = section.by_level[ALL].ack_latency_by_org
    _paired_bars(axes, list(by_org), list(by_org.values()), "minutes to accept a page")


def charts(evaluation: Evaluation) -> list[Chart]:
    return [
        Chart(
            "incidents",
            "Incidents per month by level",
            _two_panels(_stacked_months, evaluation),
        ),
        Chart(
            "response-times",
            "Time to triage and to team assembled (median and p90)",
            _two_panels(_response_times, evaluation),
        ),
        Chart(
            "ack-latency",
            "Ack latency per organisation (median and p90)",
            _two_panels(_ack_latency, evaluation),
        ),
    ]
