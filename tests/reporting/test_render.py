"""The incident report, checked against the log of a scripted incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.events import LogEvent, LogRecord
from bot.core.incident import Incident
from bot.core.levels import Level
from bot.core.lifecycle import State
from bot.core.regclocks import Clock
from bot.core.tlp import TLP
from bot.reporting.files import RedReportRefused, write_report
from bot.reporting.metrics import compute, duration
from bot.reporting.render import Report, Stamp, render

T = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
NAMES = {"alice": ("Alice Martin", "cert"), "bob": ("Bob Peeters", "cert")}
ORGS = {"cert": "CERT.be", "fccu": "Federal Computer Crime Unit", "port": "Port of Antwerp"}
HEAD = "ab" * 32
STAMP = Stamp(made_at=T + timedelta(hours=11), log_entry=8, log_hash=HEAD)
BRUSSELS = ZoneInfo("Europe/Brussels")


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


def report_of(case: Incident, log: list[LogRecord] | None = None, stamp: Stamp = STAMP) -> Report:
    return render(case, LOG if log is None else log, NAMES, ORGS, stamp)


def with_seq(records: list[LogRecord]) -> list[LogRecord]:
    return [r.model_copy(update={"seq": seq}) for seq, r in enumerate(records, 1)]


def test_metrics_come_from_the_log() -> None:
    metrics = compute(LOG)
    assert metrics.time_to_triage == timedelta(minutes=30)
    assert metrics.time_to_team == timedelta(minutes=20)
    assert metrics.never_filled == ()
    assert metrics.time_to_contained == timedelta(hours=5)
    assert metrics.time_to_resolved == timedelta(hours=10)
    assert metrics.ack_latency_by_role == {"analyst": timedelta(minutes=8)}
    assert duration(timedelta(days=1, hours=2, minutes=3)) == "1 d 2 h 3 min"
    assert duration(None) == "—"


def test_report_sections_match_the_log() -> None:
    report = report_of(incident())
    text = report.markdown
    assert text.startswith("**TLP:AMBER**")
    assert "| Organisation | CERT.be |" in text
    assert "| Level | L2 |" in text
    assert "| Severity | High (63.1) |" in text
    assert (
        "| analyst | Bob Peeters | CERT.be | 2026-11-30 08:01 UTC | 2026-11-30 08:09 UTC |" in text
    )
    assert "| Time to team assembled | 20 min |" in text
    assert "| Time to contained | 5 h 0 min |" in text
    assert "Bob Peeters: Backups intact" in text
    assert "Roles never filled" not in text
    assert "EXERCISE" not in text
    assert report.filename_stem == "INC-2026-0042-report"


def test_the_footer_says_when_the_report_was_made_and_from_which_log_head() -> None:
    report = report_of(incident())
    footer = f"Made 2026-11-30 19:00 UTC from the incident log at entry 8, head sha256 `{HEAD}`."
    assert footer in report.markdown
    assert report.markdown.rstrip().endswith("**TLP:AMBER**")
    assert f"at entry 8, head sha256 <code>{HEAD}</code>." in report.html


def test_organisations_shared_under_amber_are_named() -> None:
    shared = report_of(incident(named_orgs=["fccu", "port"])).markdown
    assert "| Shared with (TLP:AMBER) | Federal Computer Crime Unit, Port of Antwerp |" in shared
    alone = report_of(incident()).markdown
    assert "| Shared with (TLP:AMBER) | no other organisation |" in alone
    raised = report_of(incident(tlp=TLP.AMBER_STRICT, named_orgs=["fccu"])).markdown
    assert (
        "| Shared with (TLP:AMBER) | Federal Computer Crime Unit"
        " (not admitted under TLP:AMBER+STRICT) |" in raised
    )
    assert "Shared with" not in report_of(incident(tlp=TLP.GREEN)).markdown


def test_an_unknown_organisation_is_shown_by_its_id() -> None:
    text = report_of(incident(org="nowhere", named_orgs=["elsewhere"])).markdown
    assert "| Organisation | nowhere |" in text
    assert "| Shared with (TLP:AMBER) | elsewhere |" in text


def test_a_team_with_a_role_never_filled_was_not_assembled() -> None:
    log = with_seq(
        [
            *LOG[:1],
            record(0, 1, "team_assembled", level="L2", picks={"analyst": ["bob"], "legal": []}),
            *LOG[1:4],
            record(0, 40, "paging_exhausted", role="legal", missing=1),
            *LOG[4:],
        ]
    )
    metrics = compute(log)
    assert metrics.never_filled == ("legal",)
    assert metrics.time_to_team is None
    report = report_of(incident(), log)
    assert "Roles never filled: legal." in report.markdown
    assert "| Time to team assembled | not assembled (roles never filled: legal) |" in (
        report.markdown
    )
    assert 'id="never-filled">Roles never filled: legal.</p>' in report.html
    assert "<td>not assembled (roles never filled: legal)</td>" in report.html


def test_a_proposed_team_counts_its_roles_too() -> None:
    """Under TLP:RED the team is proposed; a role nobody was approved for was never filled."""
    log = with_seq(
        [
            *LOG[:1],
            record(0, 1, "team_proposed", level="L2", picks={"analyst": ["bob"], "comms": []}),
            *LOG[1:],
        ]
    )
    assert compute(log).never_filled == ("comms",)


def test_html_is_escaped_and_carries_the_tlp_banner() -> None:
    html = report_of(incident(tlp=TLP.GREEN)).html
    assert '<div class="tlp" id="tlp-banner">TLP:GREEN</div>' in html
    assert "Ransomware &lt;script&gt;" in html
    assert "<script>" not in html


def test_every_printed_page_repeats_the_label() -> None:
    html = report_of(incident(tlp=TLP.RED, is_exercise=True)).html
    marks = html.count('aria-hidden="true"><span>TLP:RED · EXERCISE</span></div>')
    assert marks == 2  # the top and the bottom of each page (checked printed in test_browser)


def test_exercise_reports_say_so() -> None:
    report = report_of(incident(is_exercise=True))
    assert "EXERCISE — EXERCISE — EXERCISE" in report.markdown
    assert 'id="exercise-banner"' in report.html
    assert report.filename_stem.endswith("-EXERCISE")


def test_reports_are_written_but_never_for_tlp_red(tmp_path: Path) -> None:
    written = write_report(incident(), report_of(incident()), tmp_path)
    assert [p.name for p in written] == ["INC-2026-0042-report.md", "INC-2026-0042-report.html"]
    red = incident(tlp=TLP.RED)
    with pytest.raises(RedReportRefused):
        write_report(red, report_of(red), tmp_path / "red")
    assert not (tmp_path / "red").exists()


CLOCKS = [
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
    Clock(
        id="dora_initial",
        title="DORA initial notification",
        started_at=T,
        due=T + timedelta(hours=4),
    ),
    Clock(
        id="nis2_notification",
        title="NIS2 incident notification",
        started_at=T,
        due=T + timedelta(hours=72),
        dropped_at=T + timedelta(hours=1),
    ),
]


def test_the_clocks_table_says_due_filed_and_on_time() -> None:
    text = report_of(incident(clocks=CLOCKS)).markdown
    assert "| NIS2 early warning | 2026-12-01 08:00 UTC | 2026-11-30 13:00 UTC | yes |" in text
    assert "| GDPR breach notification | 2026-12-03 08:00 UTC | not filed | — |" in text
    assert "| NIS2 incident notification | 2026-12-03 08:00 UTC | dropped | — |" in text
    exercise = report_of(incident(clocks=CLOCKS, is_exercise=True)).markdown
    assert "| NIS2 early warning (simulated) |" in exercise


def test_an_overdue_unfiled_notice_is_marked_late() -> None:
    report = report_of(incident(clocks=CLOCKS))  # made 11 h after T0: DORA was due at 4 h
    assert "| DORA initial notification | 2026-11-30 12:00 UTC | overdue — not filed | no |" in (
        report.markdown
    )
    assert '<td class="late">overdue — not filed</td><td>no</td>' in report.html


def test_times_are_shown_in_the_display_zone_with_utc_for_deadlines() -> None:
    stamp = Stamp(made_at=STAMP.made_at, log_entry=8, log_hash=HEAD, zone=BRUSSELS)
    text = report_of(incident(clocks=CLOCKS), stamp=stamp).markdown
    assert "| Declared | 2026-11-30 09:00 CET by Alice Martin |" in text
    assert (
        "| NIS2 early warning | 2026-12-01 09:00 CET (08:00 UTC) | 2026-11-30 14:00 CET | yes |"
        in text
    )
    assert "- 2026-11-30 09:30 CET · Alice Martin confirmed L2" in text
    assert "Made 2026-11-30 20:00 CET from the incident log" in text
    assert " UTC |" not in text.replace("(08:00 UTC) |", "")


def checkin_log(slots: int) -> list[LogRecord]:
    """Check-ins every 30 minutes: all answered, but for slot 3 missed and slot 5 late."""
    records = [*LOG[:5]]
    for slot in range(slots):
        at = 60 + 30 * slot
        records.append(record(0, at, "checkin_requested", actor="bot", due="x"))
        if slot == 3:
            records.append(record(0, at + 20, "checkin_missed", actor="bot", due="x"))
        elif slot == 5:
            records.append(record(0, at + 20, "checkin_missed", actor="bot", due="x"))
            records.append(record(0, at + 25, "checkin", text=f"C/A/N {slot}"))
        else:
            records.append(record(0, at + 5, "checkin", text=f"C/A/N {slot}"))
    records.append(record(0, 60 + 30 * slots, "checkin", actor="bob", text="unasked"))
    return with_seq(records)


def test_check_ins_are_summarised_and_only_the_missed_and_late_are_listed() -> None:
    log = checkin_log(200)
    report = report_of(incident(), log)
    text = report.markdown
    assert "Requested 200 · answered in time 198 · missed 2 · given late 1 · unasked 1" in text
    assert "Last check-in: 2026-12-04 13:00 UTC · Bob Peeters check-in: unasked" in text
    assert "- 2026-11-30 10:50 UTC · check-in missed (due x)" in text
    assert "- 2026-11-30 11:55 UTC · Alice Martin check-in: C/A/N 5 (late)" in text
    assert "C/A/N 4" not in text
    assert "check-in requested" not in text
    assert text.count("check-in") == 5  # two misses, the late one, and the last (twice)
    assert "Check-ins are summarised above." in text
    assert len(text.splitlines()) < 120
    assert "<td>200</td><td>198</td><td>2</td><td>1</td><td>1</td>" in report.html


def test_a_report_without_check_ins_says_none() -> None:
    text = report_of(incident()).markdown
    assert "## Check-ins\n\n- None.\n" in text
    assert "Check-ins are summarised above." not in text
