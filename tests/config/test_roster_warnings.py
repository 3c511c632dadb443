from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pydantic import SecretStr

from config.policy import load_policy
from config.roster import check_roster, read_roster
from config.roster_warnings import (
    WarningRules,
    check_roster_file,
    configured_platforms,
    roster_warnings,
)
from config.settings import MatrixSettings, Settings, SlackSettings
from tests.fixtures.cli import rrt
from tests.fixtures.rosters import EXAMPLE_ROSTER

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 1)
ROLES = ["coordinator", "analyst", "legal"]

# Line numbers matter below: each entry's first line is noted beside it.
ROSTER = """\
orgs:
  - id: cert
    name: CERT
    kind: cert
people:
  - id: ann
    name: Ann
    org: cert
    roles: [coordinator, analyst]
    reviewed: 2026-11-01
    handles: {slack: U1, matrix: "@ann:x"}
  - id: bob
    name: Bob
    org: cert
    roles:
      - analyst
      - coordinator
    reviewed: 2025-12-01
    handles: {slack: U2}
  - id: cas
    name: Cas
    org: cert
    roles: [analyst]
    reviewed: 2025-11-30
  - id: dirk
    name: Dirk
    org: cert
    roles: [analyst]
"""
# ann 6, bob 12 (roles at 15-17), cas 20, dirk 25; `people:` on line 5.


def warnings(
    text: str, *, platforms: tuple[str, ...] = (), stale_days: int = 365
) -> list[tuple[int, str]]:
    rules = WarningRules(today=TODAY, platforms=platforms, stale_days=stale_days)
    found = roster_warnings(read_roster(text, ROLES), ROLES, rules)
    assert all(warning.warning for warning in found)
    return [(warning.line, warning.message) for warning in found]


def test_entries_not_reviewed_within_a_year_are_stale() -> None:
    assert [w for w in warnings(ROSTER) if w[1].startswith("person")] == [
        (20, "person cas: last reviewed 2025-11-30, over 365 days ago"),
        (25, "person dirk: never reviewed"),
    ]  # bob, reviewed exactly 365 days ago, is still current


def test_the_stale_age_is_configurable() -> None:
    stale = [w for w in warnings(ROSTER, stale_days=30) if w[1].startswith("person")]
    assert [line for line, _ in stale] == [12, 20, 25]
    assert stale[0] == (12, "person bob: last reviewed 2025-12-01, over 30 days ago")


def test_people_without_a_handle_on_a_checked_platform() -> None:
    found = warnings(ROSTER, platforms=("slack", "matrix"))
    handles = [w for w in found if "handle" in w[1]]
    assert handles == [
        (12, "person bob: no handle for matrix"),
        (20, "person cas: no handle for slack, matrix"),
        (25, "person dirk: no handle for slack, matrix"),
    ]
    assert not [w for w in warnings(ROSTER) if "handle" in w[1]]  # no platform, no check


def test_roles_held_by_fewer_than_two_people() -> None:
    one_holder = ROSTER.replace("      - coordinator\n", "")  # bob's line 17 goes away
    assert [w for w in warnings(one_holder) if w[1].startswith("role")] == [
        (5, "role 'legal': nobody holds it"),
        (9, "role 'coordinator': only ann holds it"),
    ]
    in_block_list = ROSTER.replace("[coordinator, analyst]", "[analyst]")
    assert (17, "role 'coordinator': only bob holds it") in warnings(in_block_list)


def test_languages_of_an_organisation_that_is_never_the_affected_entity() -> None:
    spoken = ROSTER.replace("    kind: cert\n", "    kind: cert\n    languages: [nl]\n", 1)
    unused = (
        "organisation cert: languages are used only for the affected entity "
        "(kind operator or other), not for a cert"
    )
    assert (5, unused) in warnings(spoken)
    operator = spoken.replace("kind: cert", "kind: operator")
    assert not [w for w in warnings(operator) if w[1].startswith("organisation")]


def test_warnings_come_in_line_order() -> None:
    found = warnings(ROSTER, platforms=("slack",))
    assert [line for line, _ in found] == sorted(line for line, _ in found)
    assert found[0] == (5, "role 'legal': nobody holds it")


def test_warnings_are_kept_alongside_problems(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(ROSTER.replace("name: Dirk", "name: Dirk\n    max_tlp: PURPLE"))
    checked = check_roster_file(roster, WarningRules(today=TODAY), ROLES)
    assert [(p.line, p.warning) for p in checked.problems] == [(27, False)]
    assert "person dirk: never reviewed" not in [w.message for w in checked.warnings]
    assert checked.warnings[-1].message == "person cas: last reviewed 2025-11-30, over 365 days ago"
    assert checked.warnings[-1].render("r.yaml") == (
        "r.yaml:20: warning: person cas: last reviewed 2025-11-30, over 365 days ago"
    )


def test_no_warnings_when_the_file_is_not_a_roster() -> None:
    assert warnings("people: [unclosed\n") == []
    assert warnings("- just a list\n") == []


def test_the_configured_platforms_are_checked() -> None:
    assert configured_platforms(Settings(slack=SlackSettings(), matrix=MatrixSettings())) == []
    slack = SlackSettings(bot_token=SecretStr("xoxb"), app_token=SecretStr("xapp"))
    matrix = MatrixSettings(
        homeserver="https://m.example", user_id="@rrt:m.example", password=SecretStr("pw")
    )
    assert configured_platforms(Settings(slack=slack, matrix=MatrixSettings())) == ["slack"]
    assert configured_platforms(Settings(slack=slack, matrix=matrix)) == ["slack", "matrix"]


def test_the_sample_roster_passes_with_its_stale_entries() -> None:
    assert check_roster(EXAMPLE_ROSTER) == []
    checked = check_roster_file(EXAMPLE_ROSTER, WarningRules(TODAY, ("slack", "matrix")))
    assert checked.problems == []
    assert [(w.line, w.message) for w in checked.warnings] == [
        (365, "person alain-moreau: last reviewed 2025-06-12, over 365 days ago"),
        (391, "person xavier-noel: never reviewed"),
    ]


def for_the_cli(text: str) -> str:
    """The roster reviewed on the real today, with two backups for every policy role so only
    the test's own warnings show."""
    today = date.today().isoformat()
    for old in ("2026-11-01", "2025-12-01", "2025-11-30"):
        text = text.replace(old, today)
    roles = ", ".join(load_policy().roles)
    for backup in ("eve", "fay"):
        text += (
            f"  - {{id: {backup}, name: {backup.title()}, org: cert, roles: [{roles}],\n"
            f"     reviewed: {today}, handles: {{slack: U{backup}, matrix: '@{backup}:x'}}}}\n"
        )
    return text


def test_cli_with_only_warnings_exits_0(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    long_ago = (date.today() - timedelta(days=11)).isoformat()
    roster.write_text(for_the_cli(ROSTER.replace("2025-11-30", long_ago)))

    checked = rrt("roster", "check", "roster.yaml", "--stale-days", "10", cwd=tmp_path)

    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines() == [
        f"roster.yaml:20: warning: person cas: last reviewed {long_ago}, over 10 days ago",
        "roster.yaml:25: warning: person dirk: never reviewed",
        "roster.yaml: OK (2 warnings)",
    ]


def test_cli_checks_handles_on_the_platforms_asked_for(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(for_the_cli(ROSTER))

    unconfigured = rrt("roster", "check", "roster.yaml", cwd=tmp_path)
    slack = rrt("roster", "check", "roster.yaml", "--platform", "slack", cwd=tmp_path)

    assert unconfigured.stdout.splitlines() == [
        "roster.yaml:25: warning: person dirk: never reviewed",
        "roster.yaml: OK (1 warning)",
    ]
    assert slack.returncode == 0
    assert slack.stdout.splitlines() == [
        "roster.yaml:20: warning: person cas: no handle for slack",
        "roster.yaml:25: warning: person dirk: never reviewed",
        "roster.yaml:25: warning: person dirk: no handle for slack",
        "roster.yaml: OK (3 warnings)",
    ]


def test_cli_prints_warnings_after_problems_and_exits_1(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        for_the_cli(ROSTER).replace("name: Cas\n    org: cert", "name: Cas\n    org: x")
    )

    checked = rrt("roster", "check", "roster.yaml", "--platform", "matrix", cwd=tmp_path)

    assert checked.returncode == 1
    assert checked.stdout.splitlines() == [
        "roster.yaml:22: person cas.org: unknown organisation 'x'",
        "roster.yaml:12: warning: person bob: no handle for matrix",
        "roster.yaml:20: warning: person cas: no handle for matrix",
        "roster.yaml:25: warning: person dirk: never reviewed",
        "roster.yaml:25: warning: person dirk: no handle for matrix",
    ]


def test_cli_rejects_an_unknown_platform(tmp_path: Path) -> None:
    checked = rrt("roster", "check", str(EXAMPLE_ROSTER), "--platform", "irc", cwd=tmp_path)
    assert checked.returncode == 2
    assert "invalid choice: 'irc'" in checked.stderr


def test_cli_on_the_sample_roster(tmp_path: Path) -> None:
    both = ("--platform", "slack", "--platform", "matrix")
    checked = rrt("roster", "check", str(EXAMPLE_ROSTER), *both, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    stale = "person alain-moreau: last reviewed 2025-06-12, over 365 days ago"
    assert f"{EXAMPLE_ROSTER}:365: warning: {stale}" in lines
    assert f"{EXAMPLE_ROSTER}:391: warning: person xavier-noel: never reviewed" in lines
    assert "handle" not in checked.stdout
    assert lines[-1] == f"{EXAMPLE_ROSTER}: OK ({len(lines) - 1} warnings)"


def test_a_review_date_must_be_a_date() -> None:
    parsed = read_roster(ROSTER.replace("2025-12-01", "last week"), ROLES)
    assert parsed.roster is None
    assert [(p.line, p.message.split(":")[0]) for p in parsed.problems] == [
        (18, "person bob.reviewed")
    ]
