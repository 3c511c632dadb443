"""The one template environment of the reports: Markdown as written, HTML auto-escaped."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.reporting.describe import describe_event
from bot.reporting.evaluation import Ratio
from bot.reporting.metrics import duration


def utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def ratio(value: Ratio) -> str:
    if value.share is None:
        return "—"
    return f"{value.done}/{value.total} ({value.share:.0%})"


def table_cell(text: str) -> str:
    """A Markdown table cell: a `|` would split it."""
    return text.replace("|", "\\|")


ENV = Environment(
    loader=PackageLoader("bot.reporting", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["duration"] = duration
ENV.filters["describe"] = describe_event
ENV.filters["utc"] = utc
ENV.filters["cell"] = table_cell
ENV.filters["ratio"] = ratio
