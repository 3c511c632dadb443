"""The annual evaluation as Markdown (charts beside it) and as a self-contained HTML page."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.reporting.charts import MONTHS, Chart, charts
from bot.reporting.evaluation import Evaluation
from bot.reporting.render import TLP_COLOURS
from bot.reporting.templating import environment


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    stem: str  # e.g. "evaluation-2026"
    markdown: str
    html: str
    charts: dict[str, bytes]  # PNG file name -> bytes


def render_evaluation(evaluation: Evaluation) -> EvaluationReport:
    stem = f"evaluation-{evaluation.year}"
    drawn: list[Chart] = charts(evaluation)
    files = {f"{stem}-{chart.name}.png": chart for chart in drawn}
    values: dict[str, Any] = {
        "evaluation": evaluation,
        "tlp": evaluation.tlp.value,
        "tlp_colour": TLP_COLOURS[evaluation.tlp.value],
        "months": MONTHS,
        "charts": [
            {
                "title": chart.title,
                "file": name,
                "data_uri": "data:image/png;base64," + base64.b64encode(chart.png).decode(),
            }
            for name, chart in files.items()
        ],
    }
    return EvaluationReport(
        stem=stem,
        markdown=environment().get_template("evaluation.md.j2").render(values),
        html=environment().get_template("evaluation.html.j2").render(values),
        charts={name: chart.png for name, chart in files.items()},
    )


def write_evaluation(report: EvaluationReport, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        (f"{report.stem}.md", report.markdown),
        (f"{report.stem}.html", report.html),
    ):
        (directory / name).write_text(text, encoding="utf-8")
        written.append(directory / name)
    for name, png in report.charts.items():
        (directory / name).write_bytes(png)
        written.append(directory / name)
    return written
