"""The HTML reports as a browser shows them: headless Chromium renders the incident report and
the annual evaluation; the TLP banner must be drawn at the top and every chart must load."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.core.events import LogEvent, LogRecord
from bot.core.incident import Incident
from bot.core.levels import Level
from bot.core.lifecycle import State
from bot.core.tlp import TLP
from bot.reporting.charts import LEVEL_COLOURS
from bot.reporting.evaluation import evaluate
from bot.reporting.evaluation_render import render_evaluation, write_evaluation
from bot.reporting.files import write_report
from bot.reporting.render import TLP_COLOURS, Report, Stamp, render
from tests.fixtures.chromium import Chromium, chromium_fixture  # noqa: F401
from tests.reporting.evaluation_cases import AS_OF, ORGS, seeded_cases
from tests.reporting.pdf_text import pages

T = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
NAMES = {"alice": ("Alice Martin", "cert"), "bob": ("Bob Peeters", "cert")}
EXERCISE_BLUE = "#1f4e9c"  # the exercise banner, report.html.j2
BLACK = "#000000"
BANNER_ROWS = 120  # the banner sits within the first rows of a 1200-pixel-wide page


def record(seq: int, minutes: int, kind: str, actor: str = "alice", **data: object) -> LogRecord:
    event = LogEvent(kind=kind, actor=actor, at=T + timedelta(minutes=minutes), data=data)
    return LogRecord(seq=seq, event=event, prev_hash="0" * 64, hash=f"{seq:064x}")


LOG = [
    record(1, 0, "declared", title="Ransomware", tlp="TLP:AMBER"),
    record(2, 1, "paged", person="bob", role="analyst"),
    record(3, 9, "page_accepted", actor="bob", person="bob", role="analyst"),
    record(4, 20, "role_filled", role="analyst"),
    record(5, 30, "level_confirmed", level="L2"),
    record(6, 300, "state_changed", from_state="response", to_state="contained"),
]


def report_of(case: Incident, log: list[LogRecord] = LOG) -> Report:
    stamp = Stamp(made_at=T + timedelta(hours=6), log_entry=len(log), log_hash="cd" * 32)
    return render(case, log, NAMES, {"cert": "CERT.be"}, stamp)


def incident(**changes: object) -> Incident:
    base = Incident(
        id="INC-2026-0042",
        title="Ransomware at the port",
        org="cert",
        declared_by="alice",
        declared_at=T,
        t0=T,
        state=State.CONTAINED,
        confirmed_level=Level.L2,
    )
    return base.model_copy(update=changes)


def rgb(colour: str) -> tuple[int, int, int]:
    value = colour.removeprefix("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def count_near(png: Path, colour: str, rows: range | None = None, tolerance: int = 24) -> int:
    """Pixels within `tolerance` of `colour` on every channel, in the given rows."""
    wanted = rgb(colour)
    with Image.open(png) as opened:
        image = opened.convert("RGB")
    top, bottom = (rows.start, rows.stop) if rows else (0, image.height)
    region = image.crop((0, top, image.width, min(bottom, image.height)))
    near = 0
    for count, pixel in region.getcolors(maxcolors=1 << 24) or []:
        assert isinstance(pixel, tuple)
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, wanted, strict=True)):
            near += count
    return near


def banner_text(dom: str) -> str:
    found = re.search(r'<div class="tlp" id="tlp-banner">([^<]*)</div>', dom)
    assert found, "no TLP banner in the rendered DOM"
    return found.group(1)


def test_the_incident_report_shows_its_amber_banner_on_top(
    chromium: Chromium, tmp_path: Path
) -> None:
    amber = incident(tlp=TLP.AMBER)
    page = write_report(amber, report_of(amber), tmp_path)[1]
    dom = chromium.dump_dom(page)
    assert banner_text(dom) == "TLP:AMBER"
    assert 'id="exercise-banner"' not in dom
    assert "Bob Peeters" in dom

    shot = chromium.screenshot(page, tmp_path / "amber.png")
    top = range(0, BANNER_ROWS)
    assert count_near(shot, TLP_COLOURS["TLP:AMBER"], top) > 30  # the label's letters
    assert count_near(shot, BLACK, top, tolerance=8) > 2_000  # the label's background
    assert count_near(shot, EXERCISE_BLUE, top) == 0


def test_an_exercise_report_carries_both_banners(chromium: Chromium, tmp_path: Path) -> None:
    drill = incident(tlp=TLP.GREEN, is_exercise=True)
    page = write_report(drill, report_of(drill), tmp_path)[1]
    dom = chromium.dump_dom(page)
    assert banner_text(dom) == "TLP:GREEN"
    assert 'id="exercise-banner">EXERCISE — EXERCISE — EXERCISE</div>' in dom

    shot = chromium.screenshot(page, tmp_path / "exercise.png")
    top = range(0, BANNER_ROWS)
    assert count_near(shot, TLP_COLOURS["TLP:GREEN"], top) > 30
    assert count_near(shot, EXERCISE_BLUE, top, tolerance=8) > 10_000  # a full-width strip


def test_every_printed_page_carries_the_label_at_its_top_and_bottom(
    chromium: Chromium, tmp_path: Path
) -> None:
    notes = [record(7 + n, 400 + n, "note", text=f"Finding {n}") for n in range(150)]
    long_log = [*LOG, *notes]
    drill = incident(tlp=TLP.AMBER, is_exercise=True)
    page = write_report(drill, report_of(drill, long_log), tmp_path)[1]
    printed = pages(chromium.print_pdf(page, tmp_path / "report.pdf"))
    assert len(printed) >= 3
    mark = "TLP:AMBER · EXERCISE"
    for number, sheet in enumerate(printed, 1):
        first, last = sheet.lines[0], sheet.lines[-1]
        assert (first.text, last.text) == (mark, mark), f"page {number}"
        # The label sits in room kept free for it: no other text is drawn over it.
        others = [line.y for line in sheet.lines[1:-1] if line.text != mark]
        assert first.y + 10 < min(others), f"page {number}"
        assert max(others) < last.y - 10, f"page {number}"
    assert "Alice Martin: Finding 149" in printed[-1].text  # the whole report was printed
    assert "cd" * 32 in printed[-1].text.replace("\n", "")  # and its footer, last


@pytest.fixture(scope="module")
def evaluation_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = render_evaluation(evaluate(2026, seeded_cases(), ORGS, AS_OF))
    written = write_evaluation(report, tmp_path_factory.mktemp("evaluation"))
    page = next(path for path in written if path.suffix == ".html")
    for chart in written:  # the page must not lean on the PNG files beside it
        if chart.suffix == ".png":
            chart.unlink()
    return page


def test_the_evaluation_banner_and_tables_render(
    chromium: Chromium, evaluation_page: Path, tmp_path: Path
) -> None:
    dom = chromium.dump_dom(evaluation_page)
    assert banner_text(dom) == "TLP:AMBER+STRICT"
    assert "Operation Nightjar" not in dom
    shot = chromium.screenshot(evaluation_page, tmp_path / "evaluation.png")
    assert count_near(shot, TLP_COLOURS["TLP:AMBER+STRICT"], range(0, BANNER_ROWS)) > 30


def test_every_evaluation_chart_loads(
    chromium: Chromium, evaluation_page: Path, tmp_path: Path
) -> None:
    assert chromium.image_widths(evaluation_page) == [1000, 1000, 1000]
    # Drawn at full size in a tall window, the charts' own colours reach the screen.
    shot = chromium.screenshot(evaluation_page, tmp_path / "tall.png", height=6000)
    assert count_near(shot, LEVEL_COLOURS["L3"], tolerance=4) > 500
