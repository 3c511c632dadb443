from collections.abc import Collection, Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.levels import Level
from bot.core.roster import Organisation, Person, Roster
from bot.core.team import (
    TeamFacts,
    affected_languages,
    assemble,
    coordinator_for_declaration,
    may_see,
    missing_roles,
    not_admitted,
    parse_when,
    rank_candidates,
    required_roles,
    shortfall,
    widen,
)
from bot.core.tlp import TLP
from config.roster import load_roster
from tests.fixtures.rosters import EXAMPLE_ROSTER, MONDAY_10H, ORGS, facts, person, policy, roster

POLICY = policy()
NIGHT = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)  # Tuesday 02:00 in Brussels


def ranked_ids(
    team: Roster,
    incident: TeamFacts,
    role: str,
    exclude: Collection[str] = (),
    active: Mapping[str, int] | None = None,
) -> list[str]:
    found = rank_candidates(
        POLICY, team, incident, role, exclude=exclude, active=active or {}, now=MONDAY_10H
    )
    return [candidate.person_id for candidate in found]


def test_conditions_read_flags_comparisons_and_connectives() -> None:
    rule = parse_when("police_liaison_required or Q8 = 4 and Q6 >= 3")
    assert [[str(c) for c in clause] for clause in rule] == [
        ["police_liaison_required = 1"],
        ["Q8 = 4", "Q6 >= 3"],
    ]
    with pytest.raises(ValueError, match="not a condition"):
        parse_when("Q3 >>= 2")


CONDITIONAL = ["operator_contact", "intel_liaison", "eu_liaison"]


def test_the_base_team_per_level() -> None:
    assert required_roles(POLICY, facts(Level.L1)) == {"coordinator": 1, "analyst": 1}
    assert required_roles(POLICY, facts(Level.L2)) == {
        "coordinator": 1,
        "analyst": 2,
        "forensics": 1,
        "scribe": 1,
        "sector_liaison": 1,
        "comms": 1,
    }
    assert len(required_roles(POLICY, facts(Level.L3))) == 10


@pytest.mark.parametrize(
    ("level", "fields", "present", "absent"),
    [
        (Level.L1, {"police_liaison_required": True}, ["police_liaison"], []),
        (Level.L2, {"points": {"Q3": 3, "Q8": 4, "Q10": 2}}, CONDITIONAL, []),
        (Level.L2, {"points": {"Q3": 2, "Q8": 2, "Q10": 1}}, [], CONDITIONAL),
        (Level.L3, {"points": {"Q10": 1}}, ["eu_liaison", "police_liaison"], ["intel_liaison"]),
    ],
)
def test_conditional_roles_follow_the_answers(
    level: Level, fields: dict[str, object], present: list[str], absent: list[str]
) -> None:
    required = required_roles(POLICY, facts(level, **fields))
    assert all(required.get(role) == 1 for role in present), required
    assert not any(role in required for role in absent), required


def test_a_higher_level_adds_only_the_missing_roles() -> None:
    team = {"coordinator": ["ann"], "analyst": ["bob"]}
    assert missing_roles(POLICY, facts(Level.L1), team) == {}
    missing = missing_roles(POLICY, facts(Level.L2), team)
    assert missing["analyst"] == 1
    assert "coordinator" not in missing
    assert missing_roles(POLICY, facts(Level.L3), team)["analyst"] == 2


def test_on_call_people_come_before_those_only_declared_available() -> None:
    team = roster(
        person("standby", "analyst", on_call=[], available=True, skills=["malware"]),
        person("on-call", "analyst"),
    )
    assert ranked_ids(team, facts(rsit_class="malicious-code"), "analyst") == ["on-call", "standby"]


def test_skills_for_the_incident_type_then_language_then_load_then_roster_order() -> None:
    team = roster(
        person("plain", "analyst"),
        person("busy-speaker", "analyst", languages=["fr"]),
        person("idle-speaker", "analyst", languages=["fr"]),
        person("malware", "analyst", skills=["malware"]),
        person("ddos", "analyst", skills=["ddos"]),
        person("also-plain", "analyst"),
    )
    incident = facts(rsit_class="malicious-code", languages=["fr"])
    assert ranked_ids(team, incident, "analyst", active={"busy-speaker": 2, "plain": 0}) == [
        "malware",
        "idle-speaker",
        "busy-speaker",
        "plain",
        "ddos",
        "also-plain",
    ]


def test_the_sector_of_the_affected_organisation_adds_skills() -> None:
    team = roster(person("plain", "analyst"), person("ot", "analyst", skills=["ics"]))
    grid_incident = facts(rsit_class="availability", named_orgs=["grid"])
    assert ranked_ids(team, grid_incident, "analyst") == ["ot", "plain"]


def test_every_pick_states_why() -> None:
    team = roster(person("ann", "analyst", skills=["malware", "phishing"], languages=["fr", "nl"]))
    [candidate] = rank_candidates(
        POLICY,
        team,
        facts(rsit_class="malicious-code", languages=["fr"]),
        "analyst",
        exclude=(),
        active={},
        now=MONDAY_10H,
    )
    assert candidate.reason == (
        "on call now; skills: malware; speaks fr with the affected entity; 0 active incidents"
    )
    standby = roster(person("bob", "analyst", on_call=[], available=True))
    [other] = rank_candidates(
        POLICY,
        standby,
        facts(tlp=TLP.RED),
        "analyst",
        exclude=(),
        active={"bob": 1},
        now=MONDAY_10H,
    )
    assert other.reason == "declared available; 1 active incident; needs coordinator approval"
    assert other.needs_approval


def test_candidates_hold_the_role_are_available_and_not_on_the_team() -> None:
    team = roster(
        person("scribe", "scribe"),
        person("away", "analyst", available=False),
        person("off-shift", "analyst", on_call=[{"days": "sat", "start": "08:00", "end": "18:00"}]),
        person("member", "analyst"),
        person("free", "analyst"),
    )
    assert ranked_ids(team, facts(), "analyst", exclude={"member"}) == ["free"]


@pytest.mark.parametrize(
    ("label", "named", "expected"),
    [
        (TLP.CLEAR, [], ["cert-green", "cert-amber", "cert-red", "police-amber", "grid-red"]),
        (TLP.GREEN, [], ["cert-green", "cert-amber", "cert-red", "police-amber", "grid-red"]),
        (TLP.AMBER, [], ["cert-amber", "cert-red"]),
        (TLP.AMBER, ["police"], ["cert-amber", "cert-red", "police-amber"]),
        (TLP.AMBER_STRICT, ["police", "grid"], ["cert-red"]),
        (TLP.RED, [], ["cert-red", "grid-red"]),
    ],
)
def test_the_tlp_label_limits_who_may_be_called(
    label: TLP, named: list[str], expected: list[str]
) -> None:
    team = roster(
        person("cert-green", "analyst", max_tlp="GREEN"),
        person("cert-amber", "analyst", max_tlp="AMBER"),
        person("cert-red", "analyst", max_tlp="RED"),
        person("police-amber", "analyst", org="police", max_tlp="AMBER"),
        person("grid-red", "analyst", org="grid", max_tlp="RED"),
    )
    assert ranked_ids(team, facts(tlp=label, named_orgs=named), "analyst") == expected


def test_assembly_picks_nobody_twice_and_keeps_scarce_people_for_their_role() -> None:
    team = roster(
        person("coord", "coordinator"),
        person("both", "analyst", "forensics", skills=["forensics"]),
        person("analyst-2", "analyst"),
        person("analyst-3", "analyst"),
        person("scribe", "scribe"),
    )
    incident = facts(rsit_class="intrusions")
    assignments = assemble(
        POLICY, team, incident, team={"coordinator": ["coord"]}, active={}, now=MONDAY_10H
    )
    result = {a.role: a for a in assignments}
    assert "coordinator" not in result
    # "both" is the only forensics candidate, so forensics takes them and analysts go on;
    # they stay an analyst backup.
    assert [c.person_id for c in result["forensics"].picks] == ["both"]
    assert [c.person_id for c in result["analyst"].picks] == ["analyst-2", "analyst-3"]
    assert [c.person_id for c in result["analyst"].backups] == ["both"]
    assert result["sector_liaison"].unfilled == 1
    assert [c.person_id for c in result["scribe"].picks] == ["scribe"]


def test_duty_contacts_come_from_the_role_organisations_and_respect_tlp() -> None:
    team = roster(
        person("cop", "police_liaison", org="police", available=False),
        person("police-desk", org="police", duty_contact=True),
        person("cert-desk", org="cert", duty_contact=True, max_tlp="GREEN"),
        person("cert-analyst", "analyst"),
    )
    incident = facts(named_orgs=["police"], police_liaison_required=True)
    result = {
        a.role: a for a in assemble(POLICY, team, incident, team={}, active={}, now=MONDAY_10H)
    }
    assert result["police_liaison"].picks == []
    assert result["police_liaison"].duty_contacts == ["police-desk"]
    assert result["analyst"].duty_contacts == []  # the CERT desk is not cleared for AMBER


def test_a_role_being_paged_gets_only_who_qualifies_since_and_its_duty_contacts_afresh() -> None:
    team = roster(
        person("cop", "police_liaison", org="police"),
        person("police-desk", org="police", duty_contact=True),
        person("a1", "analyst"),
        person("a2", "analyst"),
    )
    unshared = facts(Level.L1, police_liaison_required=True)
    before = {
        a.role: a for a in assemble(POLICY, team, unshared, team={}, active={}, now=MONDAY_10H)
    }
    assert (before["police_liaison"].picks, before["police_liaison"].duty_contacts) == ([], [])

    shared = unshared.model_copy(update={"named_orgs": ["police"]})
    listed = {"police_liaison": [], "analyst": ["a1"], "coordinator": []}
    after = {
        a.role: a
        for a in assemble(
            POLICY, team, shared, team={"analyst": ["a1"]}, listed=listed, active={}, now=MONDAY_10H
        )
    }
    assert [c.person_id for c in after["police_liaison"].picks] == ["cop"]
    assert after["police_liaison"].duty_contacts == ["police-desk"]
    # The analyst slot is held: a2 becomes a backup, a1 is not proposed again.
    assert (after["analyst"].needed, after["analyst"].picks) == (0, [])
    assert [c.person_id for c in after["analyst"].backups] == ["a2"]

    # Someone already tried is not proposed again, but still brings their organisation's desk.
    tried = assemble(
        POLICY, team, shared, team={}, listed={"police_liaison": ["cop"]}, active={}, now=MONDAY_10H
    )
    police = next(a for a in tried if a.role == "police_liaison")
    assert (police.picks, police.backups, police.duty_contacts) == ([], [], ["police-desk"])
    only = widen(
        POLICY, team, shared, team={}, listed={"police_liaison": []}, active={}, now=MONDAY_10H
    )
    assert [(a.role, [c.person_id for c in a.backups]) for a in only] == [
        ("police_liaison", ["cop"])
    ]


def test_the_affected_entity_speaks_the_languages_of_the_operators_on_the_incident() -> None:
    orgs = Roster(
        orgs=[
            Organisation(id="cert", name="CERT", kind="cert", languages=["fr"]),
            Organisation(id="grid", name="Grid", kind="operator", languages=["nl", "de"]),
            Organisation(id="shop", name="Shop", kind="other", languages=["fr", "nl"]),
        ]
    )
    assert affected_languages(orgs, ["cert"]) == []  # a responder is no affected entity
    assert affected_languages(orgs, ["cert", "grid", "shop", "gone"]) == ["nl", "de", "fr"]
    team = roster(
        person("en", "analyst", languages=["en"]), person("de", "analyst", languages=["de"])
    )
    assert ranked_ids(team, facts(), "analyst") == ["en", "de"]  # no entity: no preference
    spoken = facts(languages=affected_languages(orgs, ["cert", "grid"]))
    assert ranked_ids(team, spoken, "analyst") == ["de", "en"]


@pytest.mark.parametrize(
    ("who", "label", "refusal"),
    [
        (
            person("low", "analyst", name="Lou Low", max_tlp="GREEN"),
            TLP.AMBER,
            "Lou Low is cleared only up to TLP:GREEN; INC-1 is TLP:AMBER.",
        ),
        (
            person("koen", "police_liaison", name="Koen V", org="police", max_tlp="AMBER+STRICT"),
            TLP.AMBER,
            "Koen V is cleared for TLP:AMBER+STRICT, but police, their organisation, is not "
            "named on INC-1: under TLP:AMBER only cert and the organisations it names may join. "
            "Name it with `share police`.",
        ),
        (
            person("koen", "police_liaison", name="Koen V", org="police", max_tlp="RED"),
            TLP.AMBER_STRICT,
            "Koen V is cleared for TLP:RED, but under TLP:AMBER+STRICT only members of cert, "
            "the owning organisation, may join; police may not.",
        ),
        (person("ann", "analyst", name="Ann"), TLP.RED, None),
    ],
)
def test_a_refusal_says_what_keeps_a_person_out(
    who: Person, label: TLP, refusal: str | None
) -> None:
    assert not_admitted(who, facts(tlp=label), POLICY, "INC-1") == refusal


def test_a_shortfall_says_what_keeps_each_holder_out_and_what_to_do() -> None:
    team = roster(
        person("away", "legal", name="Ann Away", available=False, on_call=[]),
        person("low", "legal", name="Lou Low", max_tlp="GREEN"),
        person("cop", "legal", name="Cop One", org="police"),
        person("busy", "legal", name="Bea Busy"),
        person("tried", "legal", name="Tom Tried"),
        person("crisis", "coordinator", name="Cris Centre", org="ncc"),
    )

    def gap(role: str, level: Level = Level.L2, **fields: object) -> tuple[str, str]:
        found = shortfall(
            POLICY,
            team,
            facts(level, **fields),
            role,
            tried={"tried"},
            on_team={"busy"},
            now=MONDAY_10H,
        )
        return found.why(), found.todo()

    assert gap("legal") == (
        "police is not named on the incident; Lou Low is not cleared for TLP:AMBER; "
        "Ann Away is not available now; Bea Busy is already on the team",
        "Name it with `share police`, or page someone by hand: `page <person> as legal`.",
    )
    assert gap("legal", tlp=TLP.AMBER_STRICT)[0].startswith(
        "under TLP:AMBER+STRICT police may not join; Lou Low is not cleared"
    )
    assert gap("crisis_liaison") == (
        "nobody on the roster holds crisis_liaison",
        "Give someone the role crisis_liaison in the roster.",
    )
    assert gap("coordinator", level=Level.L1, named_orgs=["ncc"]) == (
        "Cris Centre is not of an organisation that coordinates L1",
        "Page someone by hand: `page <person> as coordinator`.",
    )
    crowd = roster(*(person(f"p{n}", "scribe", available=False, on_call=[]) for n in range(5)))
    found = shortfall(POLICY, crowd, facts(), "scribe", tried=(), on_team=(), now=MONDAY_10H)
    assert found.why() == "P0, P1, P2 and 2 more are not available now"


def test_the_declaration_pages_the_on_call_coordinator_of_a_coordinating_organisation() -> None:
    team = roster(
        person("crisis-lead", "coordinator", org="ncc"),
        person(
            "day", "coordinator", on_call=[{"days": "mon-fri", "start": "08:00", "end": "18:00"}]
        ),
        person(
            "night", "coordinator", on_call=[{"days": "daily", "start": "18:00", "end": "08:00"}]
        ),
    )
    incident = facts(Level.L1)
    by_day = coordinator_for_declaration(POLICY, team, incident, active={}, now=MONDAY_10H)
    assert [c.person_id for c in by_day.picks] == ["day"]
    assert by_day.backups == []
    by_night = coordinator_for_declaration(POLICY, team, incident, active={}, now=NIGHT)
    assert [c.person_id for c in by_night.picks] == ["night"]
    crisis = rank_candidates(
        POLICY,
        team,
        facts(Level.L3, named_orgs=["ncc"]),
        "coordinator",
        exclude=(),
        active={},
        now=MONDAY_10H,
    )
    assert {c.person_id for c in crisis} == {"crisis-lead", "day"}


def test_the_worked_example_on_the_sample_roster() -> None:
    """Ransomware at an essential-entity hospital: L2, police liaison required (policy §2)."""
    sample = load_roster(EXAMPLE_ROSTER)
    incident = facts(
        Level.L2,
        named_orgs=["riverside-hospitals", "health-authority", "fccu"],
        rsit_class="malicious-code",
        languages=affected_languages(sample, ["cert", "riverside-hospitals", "fccu"]),
        points={"Q3": 3, "Q8": 2, "Q10": 0},
        police_liaison_required=True,
    )
    declared = coordinator_for_declaration(POLICY, sample, incident, active={}, now=MONDAY_10H)
    assert [c.person_id for c in declared.picks] == ["anna-peeters"]
    team = assemble(
        POLICY, sample, incident, team={"coordinator": ["anna-peeters"]}, active={}, now=MONDAY_10H
    )
    picks = {a.role: [c.person_id for c in a.picks] for a in team}
    assert picks["analyst"] == ["thomas-wouters", "sofie-janssens"]  # malware and forensics first
    assert picks["forensics"] == ["jan-de-smet"]
    assert picks["police_liaison"] == ["koen-verhoeven"]
    assert picks["operator_contact"] == ["eva-goossens"]
    assert picks["sector_liaison"] == ["hanne-jacobs"]
    assert all(a.unfilled == 0 for a in team), picks
    thomas = next(c for a in team for c in a.picks if c.person_id == "thomas-wouters")
    assert "speaks nl with the affected entity" in thomas.reason  # Riverside speaks nl


LABELS = list(TLP)
ORG_IDS = [org.id for org in ORGS]
ROLES = ["coordinator", "analyst", "forensics", "scribe", "police_liaison", "sector_liaison"]


@st.composite
def rosters(draw: st.DrawFn) -> Roster:
    count = draw(st.integers(min_value=0, max_value=12))
    people: list[Person] = []
    for index in range(count):
        people.append(
            person(
                f"p{index}",
                *draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True)),
                org=draw(st.sampled_from(ORG_IDS)),
                max_tlp=draw(st.sampled_from(LABELS)).value,
                available=draw(st.sampled_from([None, True, False])),
                duty_contact=draw(st.booleans()),
                skills=draw(st.lists(st.sampled_from(["malware", "ddos", "ics"]), max_size=2)),
            )
        )
    return Roster(orgs=ORGS, people=people)


@given(
    team=rosters(),
    label=st.sampled_from(LABELS),
    level=st.sampled_from(list(Level)),
    owning=st.sampled_from(ORG_IDS),
    named=st.lists(st.sampled_from(ORG_IDS), max_size=3),
    police=st.booleans(),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_nobody_above_their_clearance_or_outside_the_allowed_orgs_is_ever_listed(
    team: Roster, label: TLP, level: Level, owning: str, named: list[str], police: bool
) -> None:
    incident = TeamFacts(
        level=level, tlp=label, owning_org=owning, named_orgs=named, police_liaison_required=police
    )
    allowed_orgs = {
        TLP.AMBER_STRICT: {owning},
        TLP.AMBER: {owning, *named},
    }.get(label, set(ORG_IDS))
    listed = []
    for assignment in assemble(POLICY, team, incident, team={}, active={}, now=MONDAY_10H):
        listed += [c.person_id for c in assignment.picks + assignment.backups]
        listed += assignment.duty_contacts
        assert all(c.needs_approval is (label is TLP.RED) for c in assignment.picks)
    declared = coordinator_for_declaration(POLICY, team, incident, active={}, now=MONDAY_10H)
    listed += [c.person_id for c in declared.picks + declared.backups] + declared.duty_contacts
    for person_id in listed:
        someone = team.person(person_id)
        assert someone is not None
        assert not label.is_above(someone.max_tlp)
        assert someone.org in allowed_orgs
        assert may_see(someone, incident, POLICY)
