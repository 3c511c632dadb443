"""The incident report, checked against the log of a scripted incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.events import LogEvent, LogRecord
from bot.core.incident import Incident
from bot.core.levels import Level
from bot.core.lifecycle import State
from bot.core.regclocks import Clock
from bot.core.tlp import TLP
from bot.reporting.files import RedReportRefused, write_report
from bot.reporting.metrics import compute, duration
from bot.reporting.render import render

T = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
NAMES = {"alice": ("Alice Martin", "cert"), "bob": ("Bob Peeters", "cert")}


def record(seq: int, minutes: int, kind: str, actor: str = "alice", **data: object) -> LogRecord:
    event = LogEvent(kind=kind, actor=actor, at=T + timedelta(minutes=minutes), data=data)
    return LogRecord(seq=seq, event=event, prev_hash="0" * 64, hash=f"{seq:064x}")


LOG = [
    record(1, 0, "declared", title="Ransomware <script>", tlp="TLP:AMBER"),
    record(2, 1, "paged", person="bob", role="analyst"),
    record(3, 9, "page_accepted", actor="bob", person="bob", role="analyst"),
    record(4, 20, "role_filled", role="analyst"),
    record(5, 30, "level_confirmed", level="L2"),
    record(6, 90, "note", actor="bob", text="Backups intact"),
    record(7, 300, "state_changed", from_state="response", to_state="contained"),
    record(8, 600, "state_changed", from_state="contained", to_state="resolved"),
]


def incident(**changes: object) -> Incident:
    base = Incident(
        id="INC-2026-0042",
        title="Ransomware <script>",
        org="cert",
        declared_by="alice",
        declared_at=T,
        t0=T,
        state=State.CLOSED,
        confirmed_level=Level.L2,
        score=63.1,
        band="High",
    )
    return base.model_copy(update=changes)


def test_metrics_come_from_the_log() -> None:
    metrics = compute(LOG)
    assert metrics.time_to_triage == timedelta(minutes=30)
    assert metrics.time_to_team == timedelta(minutes=20)
    assert metrics.time_to_contained == timedelta(hours=5)
    assert metrics.time_to_resolved == timedelta(hours=10)
    assert metrics.ack_latency_by_role == {"analyst": timedelta(minutes=8)}
    assert duration(timedelta(days=1, hours=2, minutes=3)) == "1 d 2 h 3 min"
    assert duration(None) == "—"


def test_report_sections_match_the_log() -> None:
    report = render(incident(), LOG, NAMES)
    text = report.markdown
    assert text.startswith("**TLP:AMBER**")
    assert "| Level | L2 |" in text
    assert "| Severity | High (63.1) |" in text
    assert "| analyst | Bob Peeters | cert | 2026-11-30 08:01 UTC | 2026-11-30 08:09 UTC |" in text
    assert "| Time to contained | 5 h 0 min |" in text
    assert "Bob Peeters: Backups intact" in text
    assert "EXERCISE" not in text
    assert report.filename_stem == "INC-2026-0042-report"


def test_html_is_escaped_and_carries_the_tlp_banner() -> None:
    html = render(incident(tlp=TLP.GREEN), LOG, NAMES).html
    assert '<div class="tlp" id="tlp-banner">TLP:GREEN</div>' in html
    assert "Ransomware &lt;script&gt;" in html
    assert "<script>" not in html


def test_exercise_reports_say_so() -> None:
    report = render(incident(is_exercise=True), LOG, NAMES)
    assert "EXERCISE — EXERCISE — EXERCISE" in report.markdown
    assert 'id="exercise-banner"' in report.html
    assert report.filename_stem.endswith("-EXERCISE")


def test_reports_are_written_but_never_for_tlp_red(tmp_path: Path) -> None:
    written = write_report(incident(), render(incident(), LOG, NAMES), tmp_path)
    assert [p.name for p in written] == ["INC-2026-0042-report.md", "INC-2026-0042-report.html"]
    red = incident(tlp=TLP.RED)
    with pytest.raises(RedReportRefused):
        write_report(red, render(red, LOG, NAMES), tmp_path / "red")
    assert not (tmp_path / "red").exists()


def test_the_clocks_table_says_due_filed_and_on_time() -> None:
    clocks = [
        Clock(
            id="nis2_early_warning",
            title="NIS2 early warning",
            started_at=T,
            due=T + timedelta(hours=24),
            filed_at=T + timedelta(hours=5),
        ),
        Clock(
            id="gdpr_breach",
            title="GDPR breach notification",
            started_at=T,
            due=T + timedelta(hours=72),
        ),
    ]
    text = render(incident(clocks=clocks), LOG, NAMES).markdown
    assert "| NIS2 early warning | 2026-12-01 08:00 UTC | 2026-11-30 13:00 UTC | yes |" in text
    assert "| GDPR breach notification | 2026-12-03 08:00 UTC | not filed | — |" in text
    exercise = render(incident(clocks=clocks, is_exercise=True), LOG, NAMES).markdown
    assert "| NIS2 early warning (simulated) |" in exercise
