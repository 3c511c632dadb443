"""Where reports are written: a reports directory, never for TLP:RED."""

from __future__ import annotations

from pathlib import Path

from bot.core.incident import Incident
from bot.core.tlp import TLP
from bot.reporting.render import Report


class RedReportRefused(Exception):
    """A TLP:RED report is never written to a file (read it with `rrt report --stdout`)."""


def write_report(incident: Incident, report: Report, directory: Path) -> list[Path]:
    if incident.tlp is TLP.RED:
        raise RedReportRefused(f"{incident.id} is TLP:RED: its report is never written to a file.")
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{report.filename_stem}.md", directory / f"{report.filename_stem}.html"]
    paths[0].write_text(report.markdown, encoding="utf-8")
    paths[1].write_text(report.html, encoding="utf-8")
    return paths
