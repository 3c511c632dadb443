"""The one template environment of the reports: Markdown as written, HTML auto-escaped."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import cache
from typing import TYPE_CHECKING

from bot.core.display_time import filing_time, local_time
from bot.reporting.describe import describe_event
from bot.reporting.metrics import duration

if TYPE_CHECKING:
    from jinja2 import Environment

    from bot.reporting.evaluation import Ratio


def when(moment: datetime | None, zone: tzinfo) -> str:
    return local_time(moment, zone) if moment else "—"


def deadline(moment: datetime | None, zone: tzinfo) -> str:
    """A regulatory deadline: local time, then UTC (in which filings are made)."""
    return filing_time(moment, zone) if moment else "—"


def ratio(value: Ratio) -> str:
    if value.share is None:
        return "—"
    return f"{value.done}/{value.total} ({value.share:.0%})"


def table_cell(text: str) -> str:
    """A Markdown table cell: a `|` would split it."""
    return text.replace("|", "\\|")


@cache
def environment() -> Environment:
    """Made at the first report: a bot that writes none does without jinja2's memory."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("bot.reporting", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["duration"] = duration
    env.filters["describe"] = describe_event
    env.filters["when"] = when
    env.filters["deadline"] = deadline
    env.filters["cell"] = table_cell
    env.filters["ratio"] = ratio
    return env
