"""The shipped questionnaire file says what policy §2 says, and its loader refuses bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.levels import Level
from bot.core.triage import QuestionKind, Questionnaire
from config.errors import ConfigError
from config.triage import DEFAULT_TRIAGE, load_questionnaire

SHIPPED = load_questionnaire()


def test_the_default_file_is_the_packaged_one() -> None:
    assert Path(__file__).parents[2] / "config" / "triage.yaml" == DEFAULT_TRIAGE
    assert load_questionnaire(DEFAULT_TRIAGE) == SHIPPED


def test_the_questions_come_in_policy_order_with_their_kinds() -> None:
    kinds = {question.id: question.kind for question in SHIPPED.questions}
    assert list(kinds) == [
        "Q1",
        "Q2",
        *(f"Q{n}" for n in range(3, 14)),
        "Q14a",
        "Q14b",
        "Q14c",
        "Q14d",
    ]
    assert kinds["Q1"] is QuestionKind.CHOICE
    assert kinds["Q2"] is QuestionKind.TIME
    assert all(kinds[f"Q{n}"] is QuestionKind.SCORED for n in range(3, 13))
    assert kinds["Q13"] is QuestionKind.CHOICE
    assert all(kinds[f"Q14{part}"] is QuestionKind.DUTY for part in "abcd")


def test_q1_offers_the_rsit_classes() -> None:
    q1 = SHIPPED.question("Q1")
    assert q1 is not None
    assert [option.key for option in q1.options] == [
        "abusive-content",
        "malicious-code",
        "information-gathering",
        "intrusion-attempts",
        "intrusions",
        "availability",
        "information-content-security",
        "fraud",
        "vulnerable",
        "other",
        "test",
    ]


@pytest.mark.parametrize(
    ("question_id", "points"),
    [
        ("Q3", [0, 1, 2, 3, 4]),
        ("Q4", [0, 1, 2, 3, 4]),
        ("Q5", [0, 1, 2, 3, 4]),
        ("Q6", [0, 1, 2, 3, 4]),
        ("Q7", [0, 1, 2, 3]),
        ("Q8", [0, 2, 4]),
        ("Q9", [0, 2, 3, 4]),
        ("Q10", [0, 1, 2]),
        ("Q11", [0, 1, 2, 3]),
        ("Q12", [0, 2, 4]),
    ],
)
def test_scored_options_carry_the_policy_points_lowest_first(
    question_id: str, points: list[int]
) -> None:
    question = SHIPPED.question(question_id)
    assert question is not None
    assert [option.points for option in question.options] == points


@pytest.mark.parametrize("question_id", ["Q14a", "Q14b", "Q14c", "Q14d"])
def test_reporting_duties_are_yes_or_no(question_id: str) -> None:
    question = SHIPPED.question(question_id)
    assert question is not None
    assert [option.key for option in question.options] == ["yes", "no"]


def test_question_lookup_ignores_case_and_spaces() -> None:
    assert SHIPPED.question(" q14b ") == SHIPPED.question("Q14b")
    assert SHIPPED.question("Q15") is None


def test_the_bands_are_the_policy_bands() -> None:
    assert [(band.name, band.min_score) for band in SHIPPED.bands] == [
        ("Baseline", 0),
        ("Low", 20),
        ("Medium", 40),
        ("High", 55),
        ("Severe", 70),
        ("Emergency", 85),
    ]


def test_the_level_rules_are_the_policy_rules_in_order() -> None:
    rules = [(rule.level, rule.when) for rule in SHIPPED.level_rules]
    assert rules == [
        (
            Level.L3,
            [
                ["S >= 70", "Q12 >= 2"],
                ["S >= 70", "Q9 = 4"],
                ["Q12 = 4"],
                ["Q4 = 4", "Q3 = 4", "Q9 >= 3"],
            ],
        ),
        (
            Level.L2,
            [["S >= 55"], ["Q3 >= 3", "Q4 >= 3"], ["Q9 >= 3"], ["Q10 = 2"], ["Q8 = 4", "Q6 >= 3"]],
        ),
    ]
    assert SHIPPED.default_level is Level.L1
    assert SHIPPED.police_liaison_when == [["Q8 >= 2"]]


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match="cannot read") as refused:
        load_questionnaire(path)
    assert str(path) in str(refused.value)


def test_an_empty_file_is_refused_naming_the_missing_sections(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text("# empty\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_questionnaire(path)
    message = str(refused.value)
    for section in ("questions", "bands", "level_rules"):
        assert f"{path}:1: {section}: Field required" in message


def test_a_level_rule_with_an_unknown_level_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(
        "questions: []\nbands: [{name: Low, min_score: 0}]\n"
        "level_rules: [{level: L4, when: [[S >= 1]]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_questionnaire(path)
    assert f"{path}:3: level_rules.0.level: " in str(refused.value)


def test_q4_keeps_its_whole_label() -> None:
    q4 = SHIPPED.question("Q4")
    assert q4 is not None
    assert [option.label for option in q4.options][1] == "Minimal, non-critical"


def test_an_unquoted_comma_in_a_flow_mapping_is_refused_with_its_line(tmp_path: Path) -> None:
    """YAML reads `label: Minimal, non-critical` as a label plus a key `non-critical`."""
    lines = DEFAULT_TRIAGE.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if '"Minimal, non-critical"' in line)
    lines[at] = lines[at].replace('"Minimal, non-critical"', "Minimal, non-critical")
    path = tmp_path / "triage.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_questionnaire(path)
    assert str(refused.value) == (
        f"{path}:{at + 1}: questions.3.options.1.non-critical: Extra inputs are not permitted"
    )


def test_a_minimal_questionnaire_loads(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(
        "questions:\n"
        "  - id: Q1\n    text: How bad?\n    kind: scored\n    weight: 100\n"
        "    options: [{key: mild, label: Mild, points: 0}, {key: bad, label: Bad, points: 1}]\n"
        "bands: [{name: Calm, min_score: 0}, {name: Storm, min_score: 50}]\n"
        "level_rules: [{level: L2, when: [[Q1 = 1]]}]\n",
        encoding="utf-8",
    )
    questionnaire = load_questionnaire(path)
    assert isinstance(questionnaire, Questionnaire)
    assert [question.id for question in questionnaire.scored] == ["Q1"]
    assert questionnaire.band_for(100) == "Storm"
