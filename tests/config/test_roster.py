from collections import Counter
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.roster import check_roster, load_roster, parse_roster
from tests.fixtures.rosters import EXAMPLE_ROSTER

ROLES = [
    "coordinator", "analyst", "forensics", "scribe", "police_liaison", "sector_liaison",
    "operator_contact", "comms", "legal", "crisis_liaison", "intel_liaison", "eu_liaison",
]  # fmt: skip

BROKEN = """\
orgs:
  - id: cert
    name: CERT
    kind: cert
  - id: grid
    name: Grid
    kind: power-station
people:
  - id: ann
    name: Ann
    org: cert
    roles: [analyst, hacker]
    languages: [nl, xx]
    max_tlp: PURPLE
    handles: {slack: U1}
  - id: ann
    name: Ann Again
    org: nowhere
  - id: bob
    name: Bob
    org: grid
    handles: {slack: U1}
    on_call:
      - {days: mon-funday, start: "08:00", end: "18:00"}
      - {days: daily, start: "25:00", end: "08:00", timezone: Mars/Olympus}
    skils: [typo]
  - id: Not A Slug
    name: Cas
    org: cert
    org: cert
extra: true
"""


def problems(text: str) -> list[tuple[int, str]]:
    _, found = parse_roster(text, ROLES)
    return [(problem.line, problem.message) for problem in found]


def test_every_problem_is_reported_with_its_line() -> None:
    found = problems(BROKEN)
    expected = [
        (7, "organisation grid.kind"),
        (12, "person ann.roles.1: unknown role 'hacker'"),
        (13, "person ann.languages.1"),
        (14, "person ann.max_tlp: unknown TLP label 'PURPLE'"),
        (16, "person ann.id: duplicate person id 'ann'"),
        (18, "person ann.org: unknown organisation 'nowhere'"),
        (22, "person bob.handles.slack: slack handle 'U1' already belongs to 'ann'"),
        (24, "person bob.on_call.0.days: bad day range 'mon-funday'"),
        (25, "person bob.on_call.1.start"),
        (25, "person bob.on_call.1.timezone: unknown timezone 'Mars/Olympus'"),
        (26, "person bob.skils: Extra inputs are not permitted"),
        (27, "person Not A Slug.id: String should match pattern"),
        (30, "duplicate key 'org'"),
        (31, "unknown section 'extra'"),
    ]
    for line, text in expected:
        assert any(at == line and text in message for at, message in found), (line, text, found)
    assert len(found) == len(expected)


def test_people_of_a_malformed_organisation_are_not_reported_again() -> None:
    found = problems(BROKEN)
    assert not any("unknown organisation 'grid'" in message for _, message in found)


def test_yaml_syntax_errors_point_at_their_line() -> None:
    [(line, message)] = problems("orgs:\n  - id: cert\npeople: [\n")
    assert line == 4
    assert message.startswith("not valid YAML: expected")


def test_a_roster_needs_its_sections() -> None:
    assert problems("- just a list\n") == [(1, "expected `orgs:` and `people:` sections")]
    assert problems("orgs: cert\n")[0] == (1, "orgs: expected a list of entries")


def test_unquoted_times_are_read_as_times() -> None:
    roster, found = parse_roster(
        "orgs: [{id: cert, name: CERT, kind: cert}]\n"
        "people:\n"
        "  - {id: ann, name: Ann, org: cert, on_call: [{days: daily, start: 18:00, end: 08:00}]}\n",
        ROLES,
    )
    assert found == []
    assert roster is not None
    assert str(roster.people[0].on_call[0].start) == "18:00:00"


def test_an_organisation_has_languages_checked_like_a_person() -> None:
    text = (
        "orgs:\n"
        "  - {id: cert, name: CERT, kind: cert}\n"
        "  - id: grid\n"
        "    name: Grid\n"
        "    kind: operator\n"
        "    languages: [nl, xx]\n"
        "people: []\n"
    )
    [(line, message)] = problems(text)
    assert line == 6
    assert message.startswith("organisation grid.languages.1: Input should be 'nl'")
    roster, found = parse_roster(text.replace(", xx", ", fr"), ROLES)
    assert found == []
    assert roster is not None
    assert roster.orgs[1].languages == ["nl", "fr"]


def test_check_and_load_a_file(tmp_path: Path) -> None:
    broken = tmp_path / "roster.yaml"
    broken.write_text(BROKEN, encoding="utf-8")
    assert check_roster(broken)[0].render(str(broken)) == (
        f"{broken}:7: organisation grid.kind: Input should be 'cert', 'police', 'crisis_centre',"
        " 'sector_authority', 'operator', 'prosecutor', 'intelligence', 'eu_network' or 'other'"
    )
    with pytest.raises(ConfigError, match=rf"{broken}:12: person ann.roles.1: unknown role"):
        load_roster(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        load_roster(tmp_path / "missing.yaml")


def test_the_example_roster_is_clean_and_complete() -> None:
    assert check_roster(EXAMPLE_ROSTER) == []
    roster = load_roster(EXAMPLE_ROSTER)
    assert len(roster.people) >= 25
    roles = Counter(role for person in roster.people for role in person.roles)
    assert set(roles) == set(ROLES)
    assert all(count >= 2 for count in roles.values()), roles
    assert roles["coordinator"] >= 2
    kinds = {org.kind for org in roster.orgs}
    assert kinds >= {"cert", "police", "crisis_centre", "sector_authority", "operator"}
    assert kinds >= {"prosecutor", "intelligence", "eu_network"}
    for org in roster.orgs:
        assert roster.duty_contacts(org.id), f"{org.id} has no duty contact"
        assert bool(org.languages) is (org.kind == "operator"), org.id  # the affected entities
    for person in roster.people:
        assert set(person.handles) == {"slack", "matrix", "console"}
        assert person.handles["console"] == person.id
        assert person.handles["matrix"].endswith(":rrt.example")
        assert person.handles["slack"].startswith("U")
