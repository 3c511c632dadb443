"""The annual evaluation's figures, checked against values worked out by hand from
evaluation_cases.py; its rendering; and `rrt evaluate` as a real process on a demo database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.levels import Level
from bot.core.tlp import TLP
from bot.reporting.evaluation import (
    ALL,
    NOT_IN_ROSTER,
    UNSET,
    Case,
    Evaluation,
    Ratio,
    checkin_adherence,
    evaluate,
)
from bot.reporting.evaluation_render import EvaluationReport, render_evaluation, write_evaluation
from bot.reporting.evaluation_stats import Spread, nearest_rank, spread
from tests.fixtures.cli import rrt
from tests.reporting.evaluation_cases import (
    AS_OF,
    ORGS,
    Log,
    day,
    incident,
    seeded_cases,
    sorted_records,
    timed,
)

REPO = Path(__file__).resolve().parents[2]


def minutes(*values: float) -> list[timedelta]:
    return [timedelta(minutes=value) for value in values]


def spread_of(count: int, median: float | None, p90: float | None) -> Spread:
    return Spread(
        count=count,
        median=None if median is None else timedelta(minutes=median),
        p90=None if p90 is None else timedelta(minutes=p90),
    )


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return evaluate(2026, seeded_cases(), ORGS, AS_OF)


@pytest.fixture(scope="module")
def report(evaluation: Evaluation) -> EvaluationReport:
    return render_evaluation(evaluation)


# Median and p90 (nearest rank)


def test_no_values_give_no_figures() -> None:
    assert spread([]) == Spread(count=0, median=None, p90=None)


def test_one_value_is_its_own_median_and_p90() -> None:
    assert spread(minutes(7)) == spread_of(1, 7, 7)


def test_an_even_count_takes_the_mean_of_the_middle_pair() -> None:
    assert spread(minutes(8, 2, 6, 4)) == spread_of(4, 5, 8)
    assert spread(minutes(1, 2)) == spread_of(2, 1.5, 2)


def test_p90_is_the_value_at_the_nearest_rank() -> None:
    assert nearest_rank(minutes(*range(1, 11)), 90) == timedelta(minutes=9)  # ⌈9.0⌉ = 9
    assert nearest_rank(minutes(*range(1, 12)), 90) == timedelta(minutes=10)  # ⌈9.9⌉ = 10
    # 0.9 × 70 is 63.000…01 in floating point; the rank is still 63
    assert nearest_rank(minutes(*range(1, 71)), 90) == timedelta(minutes=63)
    assert nearest_rank([], 90) is None


# Check-in adherence


def test_a_checkin_answers_only_a_pending_request() -> None:
    log = Log(day(1, 1)).add(0, "checkin", "ann")  # nobody asked: not counted
    log.add(10, "checkin_requested").add(20, "checkin_requested")  # the first was never answered
    log.add(25, "checkin", "ann").add(26, "checkin", "ann")  # the second answers nothing
    log.add(30, "checkin_requested").add(40, "checkin_missed").add(45, "checkin", "ann")
    assert checkin_adherence(log.records) == Ratio(1, 3)


# Time to team assembled


def test_a_team_with_a_role_never_filled_is_left_out_of_time_to_team() -> None:
    def team_of(number: int, filled_after: float, unfilled: str | None) -> Case:
        when = day(3, number)
        picks = {"analyst": ["ann"], **({unfilled: []} if unfilled else {})}
        log = timed(when, 10, filled_after)
        log.add(1, "team_assembled", level="L2", picks=picks)
        if unfilled:
            log.add(30, "paging_exhausted", role=unfilled, missing=1)
        return incident(number, when, level=Level.L2), sorted_records(log)

    cases = [
        team_of(1, 20, None),
        team_of(2, 40, None),
        team_of(3, 5, "legal"),  # quick, but never assembled: would pull the median down
    ]
    figures = evaluate(2026, cases, ORGS, AS_OF).real.by_level["L2"]
    assert figures.incidents == 3
    assert figures.time_to_team == spread_of(2, 30, 40)
    assert figures.team_not_assembled == 1
    assert evaluate(2026, cases, ORGS, AS_OF).real.by_level[ALL].team_not_assembled == 1
    markdown = render_evaluation(evaluate(2026, cases, ORGS, AS_OF)).markdown
    assert "| L2 | 3 | 10 min | 10 min | 30 min | 40 min | 1 |" in markdown
    assert "left out of its median and p90" in markdown


# The seeded year


def test_incidents_of_other_years_are_left_out(evaluation: Evaluation) -> None:
    assert evaluation.real.by_level[ALL].incidents == 8
    assert evaluation.exercise.by_level[ALL].incidents == 4
    listed = [item.id for s in evaluation.sections for item in s.incidents]
    assert all(incident_id.startswith("INC-2026-") for incident_id in listed)


def test_incidents_per_month_by_level(evaluation: Evaluation) -> None:
    def month(*pairs: tuple[int, int]) -> list[int]:
        counts = [0] * 12
        for number, count in pairs:
            counts[number - 1] = count
        return counts

    assert evaluation.real.per_month == {
        "L1": month((1, 1), (2, 1), (6, 1)),
        "L2": month((1, 1), (3, 1)),
        "L3": month((3, 1), (4, 1)),
        UNSET: month((6, 1)),
    }
    assert evaluation.exercise.per_month == {
        "L1": month((2, 1)),
        "L2": month((5, 2)),
        "L3": month((9, 1)),
    }


def test_real_figures_per_level(evaluation: Evaluation) -> None:
    levels = evaluation.real.by_level
    assert list(levels) == ["L1", "L2", "L3", UNSET, ALL]

    l1 = levels["L1"]  # incidents 1, 3 and 7 (7 has only a proposed level: no triage, no team)
    assert l1.incidents == 3
    assert l1.time_to_triage == spread_of(2, 15, 20)
    assert l1.time_to_team == spread_of(2, 30, 40)
    assert l1.ack_latency_by_org == {"cert": spread_of(2, 5, 6)}
    assert l1.checkins == Ratio(1, 1)
    assert l1.reports_on_time == Ratio(0, 1)  # filed after 80 h of 72

    l2 = levels["L2"]  # incidents 2 and 4
    assert l2.incidents == 2
    assert l2.time_to_triage == spread_of(2, 40, 50)
    assert l2.time_to_team == spread_of(2, 75, 90)
    assert l2.ack_latency_by_org == {
        "cert": spread_of(2, 5, 8),
        "ministry": spread_of(1, 20, 20),
        "police": spread_of(1, 10, 10),
    }
    assert l2.checkins == Ratio(1, 2)
    # 2: filed in 23 h of 24. 4: filed at its due time (on time), one dropped (not due),
    # one overdue and unfiled (late), one not yet due (not counted).
    assert l2.reports_on_time == Ratio(2, 3)

    l3 = levels["L3"]  # incidents 5 (TLP:RED) and 6
    assert l3.incidents == 2
    assert l3.time_to_triage == spread_of(2, 10, 15)
    assert l3.time_to_team == spread_of(2, 25, 35)
    assert l3.ack_latency_by_org == {
        NOT_IN_ROSTER: spread_of(1, 7, 7),
        "police": spread_of(1, 3, 3),
    }
    assert l3.open_lessons == 2
    assert l3.checkins == Ratio(0, 0)
    assert l3.checkins.share is None

    unset = levels[UNSET]
    assert (unset.incidents, unset.time_to_triage.count, unset.ack_latency_by_org) == (1, 0, {})


def test_real_figures_for_the_whole_year(evaluation: Evaluation) -> None:
    year = evaluation.real.by_level[ALL]
    # triage 5, 10, 15, 20, 30, 50: median (15 + 20) / 2, p90 rank ⌈5.4⌉ = 6
    assert year.time_to_triage == spread_of(6, 17.5, 50)
    # team 15, 20, 35, 40, 60, 90
    assert year.time_to_team == spread_of(6, 37.5, 90)
    assert year.ack_latency_by_org == {
        "cert": spread_of(4, 5, 8),  # 2, 4, 6, 8
        "ministry": spread_of(1, 20, 20),
        NOT_IN_ROSTER: spread_of(1, 7, 7),
        "police": spread_of(2, 6.5, 10),  # 3, 10
    }
    assert year.checkins == Ratio(2, 3)
    assert year.reports_on_time == Ratio(2, 4)
    assert year.reports_on_time.share == 0.5
    assert year.open_lessons == 2


def test_exercise_figures_stay_apart(evaluation: Evaluation) -> None:
    levels = evaluation.exercise.by_level
    assert list(levels) == ["L1", "L2", "L3", ALL]
    assert levels["L1"].open_lessons == 1  # "x" was done later; the unnamed one is open
    assert levels["L1"].ack_latency_by_org == {"cert": spread_of(1, 5, 5)}
    l2 = levels["L2"]
    assert l2.time_to_triage == spread_of(2, 30, 40)
    assert l2.time_to_team == spread_of(2, 55, 80)
    assert l2.checkins == Ratio(0, 1)  # answered only after the grace ended
    assert l2.reports_on_time == Ratio(1, 1)
    year = levels[ALL]
    assert year.time_to_triage == spread_of(4, 22.5, 40)  # 12, 20, 25, 40
    assert year.ack_latency_by_org == {"cert": spread_of(1, 5, 5), "police": spread_of(1, 9, 9)}


def test_red_titles_are_withheld_and_the_label_follows_the_titles_shown(
    evaluation: Evaluation,
) -> None:
    titles = {item.id: item.title for s in evaluation.sections for item in s.incidents}
    assert titles["INC-2026-0005"] is None
    assert titles["INC-2026-0013"] is None
    assert titles["INC-2026-0012"] == "Drill Kestrel"
    assert evaluation.tlp is TLP.AMBER_STRICT
    assert evaluate(2030, seeded_cases(), ORGS, AS_OF).tlp is TLP.CLEAR


# Rendering


def test_rendered_figures_and_no_red_title(report: EvaluationReport) -> None:
    for text in (report.markdown, report.html):
        assert "Operation Nightjar" not in text
        assert "Drill Osprey" not in text
        assert "Drill Kestrel" in text
        assert "title withheld (TLP:RED)" in text
    assert report.markdown.startswith("**TLP:AMBER+STRICT**")
    assert (
        "| all | 8 | 17 min | 50 min | 37 min | 1 h 30 min | 0 | 2/3 (67%) | 2/4 (50%) | 2 |"
        in report.markdown
    )
    assert "| Jun | 1 | 0 | 0 | 1 |" in report.markdown
    assert "![Incidents per month by level](evaluation-2026-incidents.png)" in report.markdown
    assert '<div class="tlp" id="tlp-banner">TLP:AMBER+STRICT</div>' in report.html


def test_the_html_carries_its_charts_inline(report: EvaluationReport, tmp_path: Path) -> None:
    assert report.html.count('src="data:image/png;base64,') == 3
    assert ".png" not in report.html
    written = write_evaluation(report, tmp_path)
    assert sorted(path.name for path in written) == [
        "evaluation-2026-ack-latency.png",
        "evaluation-2026-incidents.png",
        "evaluation-2026-response-times.png",
        "evaluation-2026.html",
        "evaluation-2026.md",
    ]


# The command line


def test_rrt_evaluate_on_a_demo_database(tmp_path: Path) -> None:
    played = rrt("demo", "--db", "demo.db", "--quiet", cwd=tmp_path)
    assert played.returncode == 0, played.stderr
    done = rrt("evaluate", "--year", "2026", "--db", "demo.db", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert done.stdout.split() == [
        f"out/{name}"
        for name in (
            "evaluation-2026.md",
            "evaluation-2026.html",
            "evaluation-2026-incidents.png",
            "evaluation-2026-response-times.png",
            "evaluation-2026-ack-latency.png",
        )
    ]
    markdown = (out / "evaluation-2026.md").read_text(encoding="utf-8")
    assert (
        "INC-2026-0001 · Nov · L2 · TLP:AMBER · Ransomware at Riverside Hospital Group" in markdown
    )
    # Its last role (comms) was filled 1 h 11 min after the declaration.
    assert "| L2 | 1 | 38 min | 38 min | 1 h 11 min | 1 h 11 min | 0 | 1/2 (50%) |" in markdown
    assert (out / "evaluation-2026-incidents.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    empty = rrt("evaluate", "--year", "2019", "--db", "demo.db", "--out", "old", cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert "| all | 0 |" in (tmp_path / "old" / "evaluation-2019.md").read_text(encoding="utf-8")
