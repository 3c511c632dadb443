import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.core.levels import Level
from bot.core.team import Audience
from bot.core.tlp import TLP
from config.errors import ConfigError
from config.policy import DEFAULT_POLICY, Policy, load_policy


def test_the_packaged_policy_carries_the_team_table() -> None:
    policy = load_policy()
    counts = {
        level: {role: need.count for role, need in rule.team.items()}
        for level, rule in policy.levels.items()
    }
    assert counts[Level.L1] == {"coordinator": 1, "analyst": 1, "police_liaison": 1}
    assert counts[Level.L2]["analyst"] == 2
    assert counts[Level.L3]["analyst"] == 3
    assert "legal" not in counts[Level.L2]
    assert set(counts[Level.L3]) == set(policy.roles)
    assert policy.levels[Level.L2].team["operator_contact"].when == "Q3 >= 3"
    assert policy.levels[Level.L3].name == "national cyber security crisis"


def test_the_packaged_policy_carries_paging_cadence_clocks_and_tlp() -> None:
    policy = load_policy()
    timeouts = {level: rule.ack_timeout for level, rule in policy.paging.items()}
    assert timeouts == {
        Level.L1: timedelta(minutes=30),
        Level.L2: timedelta(minutes=15),
        Level.L3: timedelta(minutes=5),
    }
    assert policy.paging[Level.L3].parallel
    assert not policy.paging[Level.L2].parallel
    assert all(rule.max_cycles == 3 for rule in policy.paging.values())
    assert policy.cadence[Level.L2].grace == timedelta(minutes=30)
    assert policy.regulatory.remind_before == [timedelta(hours=6), timedelta(hours=1)]
    assert policy.regulatory.clocks["nis2_final"].after == "nis2_notification"
    assert policy.default_tlp is TLP.AMBER
    assert policy.tlp[TLP.RED].coordinator_approval
    assert policy.tlp[TLP.AMBER_STRICT].audience is Audience.OWNING_ORG


def test_policy_round_trips_through_json() -> None:
    policy = load_policy()
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


def edited(tmp_path: Path, change: str, value: object) -> Path:
    """The packaged policy with one field (a dotted path) replaced."""
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    *parents, last = change.split(".")
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "value", "message"),
    [
        ("paging.L2.ack_timeout", "soon", r"paging\.L2\.ack_timeout: .*not a duration: 'soon'"),
        ("paging.L2.ack_timeout", 30, r"paging\.L2\.ack_timeout: .*30 has no unit"),
        ("paging.L2.max_cycles", 0, r"paging\.L2\.max_cycles: .*greater than or equal to 1"),
        ("levels.L2.team.operator_contact", {"count": 1, "when": "Q3 >>= 3"}, "not a condition"),
        ("levels.L2.team.analyst", 0, r"levels\.L2\.team\.analyst\.count"),
        ("levels.L2.team.hacker", 1, r"levels\.L2\.team: unknown role\(s\) hacker"),
        ("levels.L1.coordinator_org_kinds", ["mafia"], r"levels\.L1\.coordinator_org_kinds\.0"),
        ("cadence.L2.phases", [{"every": "4h"}, {"every": "2h"}], "only the last phase"),
        ("regulatory.clocks.nis2_final.after", "nis3", "unknown clock 'nis3'"),
        ("regulatory.clocks.gdpr_breach.when", "feelings", r"gdpr_breach\.when"),
        ("tlp.PURPLE", {"audience": "anyone"}, "unknown TLP label 'PURPLE'"),
        ("default_tlp", "BLUE", r"default_tlp: .*unknown TLP label"),
        ("surprise", 1, r"surprise: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_policy_names_file_field_and_problem(
    tmp_path: Path, change: str, value: object, message: str
) -> None:
    path = edited(tmp_path, change, value)
    with pytest.raises(ConfigError, match=message) as raised:
        load_policy(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: ", str(raised.value))


def test_an_unknown_key_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    lines = DEFAULT_POLICY.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  L2: {ack_timeout:"))
    lines[at] = lines[at].replace("{", "{colour: blue, ", 1)
    path = tmp_path / "policy.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_policy(path)
    assert str(raised.value) == f"{path}:{at + 1}: paging.L2.colour: Extra inputs are not permitted"


def test_a_check_across_fields_points_at_the_field_it_names(tmp_path: Path) -> None:
    lines = DEFAULT_POLICY.read_text(encoding="utf-8").splitlines()
    levels = lines.index("levels:")
    at = next(i for i, line in enumerate(lines) if i > levels and line == "    team:")
    lines.insert(at + 1, "      hacker: 1")
    path = tmp_path / "policy.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_policy(path)
    assert str(raised.value) == f"{path}:{at + 2}: levels.L1.team: unknown role(s) hacker"


def test_a_repeated_key_is_refused_with_its_line(tmp_path: Path) -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(text + "default_tlp: AMBER\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_policy(path)
    assert str(raised.value) == f"{path}:{len(text.splitlines()) + 1}: duplicate key 'default_tlp'"


def test_missing_levels_are_named(tmp_path: Path) -> None:
    only_l1 = {"ack_timeout": "5m", "parallel": True}
    only_l1 |= {"escalate_to_duty_contact": True, "alert_unfilled": True}
    path = edited(tmp_path, "paging", {"L1": only_l1})
    with pytest.raises(ConfigError, match=r"paging: missing level\(s\) L2, L3"):
        load_policy(path)


def test_an_unreadable_policy_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "nowhere.yaml")
