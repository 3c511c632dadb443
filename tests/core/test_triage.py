"""The triage engine against the shipped questionnaire (policy §2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.core.levels import Level
from bot.core.triage import (
    UNKNOWN,
    Band,
    LevelRule,
    Option,
    Question,
    QuestionKind,
    Questionnaire,
    evaluate,
    next_question,
    raise_only,
    score,
)
from config.errors import ConfigError
from config.triage import DEFAULT_TRIAGE, load_questionnaire
from tests.fixtures.triage import WORKED_EXAMPLE

QUESTIONNAIRE = load_questionnaire()
SCORED = QUESTIONNAIRE.scored

# The lowest option of every scored question: a complete questionnaire scoring 0.
BASELINE = {question.id: question.options[0].key for question in SCORED}

# Policy §2's worked example: ransomware at an essential-entity hospital (scored answers).
HOSPITAL = {question.id: WORKED_EXAMPLE[question.id] for question in SCORED}


def by_points(question_id: str, points: int) -> str:
    """The key of the option worth `points` in the shipped questionnaire."""
    question = QUESTIONNAIRE.question(question_id)
    assert question is not None
    return next(option.key for option in question.options if option.points == points)


def answers_with(**points: int) -> dict[str, str]:
    """A complete answer set at the lowest options, except the given question points."""
    return {**BASELINE, **{qid: by_points(qid, value) for qid, value in points.items()}}


def test_the_worked_example_scores_63_1_high_l2_with_police_liaison() -> None:
    result = evaluate(QUESTIONNAIRE, HOSPITAL)

    assert result.score == 63.1
    assert result.band == "High"
    assert result.level is Level.L2
    assert result.rule == "S >= 55"
    assert result.police_liaison_required
    assert result.complete
    assert result.retriage == ()
    assert result.explanation == (
        "Score 63.1 (High) → L2, because S >= 55. Police liaison required."
    )


def test_the_worked_example_adds_up_term_by_term() -> None:
    # S = 11.25+20+9+5+5+5+0+0+5.33+2.5 as written in the policy, each term rounded half up.
    terms = {
        "Q3": 11.3,
        "Q4": 20,
        "Q5": 9,
        "Q6": 5,
        "Q7": 5,
        "Q8": 5,
        "Q9": 0,
        "Q10": 0,
        "Q11": 5.3,
        "Q12": 2.5,
    }
    for question_id, expected in terms.items():
        assert score(QUESTIONNAIRE, {question_id: HOSPITAL[question_id]}) == expected


def test_the_shipped_questionnaire_has_the_policy_weights() -> None:
    weights = {question.id: question.weight for question in SCORED}
    assert weights == {
        "Q3": 15,
        "Q4": 20,
        "Q5": 12,
        "Q6": 10,
        "Q7": 5,
        "Q8": 10,
        "Q9": 10,
        "Q10": 5,
        "Q11": 8,
        "Q12": 5,
    }
    assert sum(weights.values()) == 100


# A one-question questionnaire whose single answer is the score itself in tenths, with the
# shipped bands and level rules, so that every boundary is reached through `evaluate`.
_TENTHS = Questionnaire(
    questions=[
        Question(
            id="S10",
            text="Score in tenths",
            kind=QuestionKind.SCORED,
            weight=100,
            options=[Option(key=str(n), label=str(n), points=n) for n in range(1001)],
        )
    ],
    bands=QUESTIONNAIRE.bands,
    level_rules=QUESTIONNAIRE.level_rules,
)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0, "Baseline"),
        (19.9, "Baseline"),
        (20, "Low"),
        (39.9, "Low"),
        (40, "Medium"),
        (54.9, "Medium"),
        (55, "High"),
        (69.9, "High"),
        (70, "Severe"),
        (84.9, "Severe"),
        (85, "Emergency"),
        (100, "Emergency"),
    ],
)
def test_band_boundaries(value: float, band: str) -> None:
    # Option keys are digits, so answer by number: option n+1 is worth n tenths.
    answer = {"S10": str(round(value * 10) + 1)}
    result = evaluate(_TENTHS, answer)
    assert result.score == value
    assert result.band == band
    assert QUESTIONNAIRE.band_for(value) == band


@pytest.mark.parametrize(
    ("value", "level"),
    [(54.9, Level.L1), (55, Level.L2), (69.9, Level.L2), (70, Level.L2), (100, Level.L2)],
)
def test_the_score_alone_never_proposes_l3(value: float, level: Level) -> None:
    answer = {"S10": str(round(value * 10) + 1)}
    assert evaluate(_TENTHS, answer).level is level


@pytest.mark.parametrize(
    ("points", "level", "rule", "expected_score"),
    [
        pytest.param(
            {"Q3": 4, "Q4": 4, "Q5": 4, "Q6": 4, "Q7": 3, "Q8": 4, "Q11": 3, "Q12": 2},
            Level.L3,
            "S >= 70 and Q12 >= 2",
            82.5,
            id="L3 high score and health risk",
        ),
        pytest.param(
            {"Q3": 3, "Q4": 4, "Q5": 4, "Q6": 4, "Q7": 3, "Q8": 4, "Q9": 4, "Q11": 3},
            Level.L3,
            "S >= 70 and Q9 = 4",
            86.3,
            id="L3 high score and national spread",
        ),
        pytest.param({"Q12": 4}, Level.L3, "Q12 = 4", 5, id="L3 actual health harm"),
        pytest.param(
            {"Q3": 4, "Q4": 4, "Q9": 3},
            Level.L3,
            "Q4 = 4 and Q3 = 4 and Q9 >= 3",
            42.5,
            id="L3 critical operator down, spread across sectors",
        ),
        pytest.param(
            {"Q3": 3, "Q4": 4, "Q5": 3, "Q6": 2, "Q7": 3, "Q8": 2, "Q11": 2, "Q12": 2},
            Level.L2,
            "S >= 55",
            63.1,
            id="L2 score",
        ),
        pytest.param(
            {"Q3": 3, "Q4": 3},
            Level.L2,
            "Q3 >= 3 and Q4 >= 3",
            26.3,
            id="L2 essential entity, critical impact",
        ),
        pytest.param({"Q9": 3}, Level.L2, "Q9 >= 3", 7.5, id="L2 several sectors"),
        pytest.param({"Q10": 2}, Level.L2, "Q10 = 2", 5, id="L2 confirmed cross-border"),
        pytest.param(
            {"Q8": 4, "Q6": 3},
            Level.L2,
            "Q8 = 4 and Q6 >= 3",
            17.5,
            id="L2 state actor near critical systems",
        ),
        pytest.param({}, Level.L1, "", 0, id="L1 default"),
        pytest.param(
            {"Q3": 4, "Q4": 2, "Q5": 2, "Q6": 2, "Q7": 2, "Q9": 2, "Q10": 1, "Q11": 2, "Q12": 2},
            Level.L1,
            "",
            54.7,
            id="L1 just below every rule",
        ),
    ],
)
def test_each_level_rule_alternative_fires_on_its_own(
    points: dict[str, int], level: Level, rule: str, expected_score: float
) -> None:
    result = evaluate(QUESTIONNAIRE, answers_with(**points))
    assert result.score == expected_score
    assert result.level is level
    assert result.rule == rule


def test_the_default_level_explains_that_no_rule_matched() -> None:
    result = evaluate(QUESTIONNAIRE, BASELINE)
    assert result.level is Level.L1
    assert result.band == "Baseline"
    assert not result.police_liaison_required
    assert result.explanation == "Score 0.0 (Baseline) → L1, no escalation rule matched."


def test_an_empty_questionnaire_proposes_the_default_level() -> None:
    result = evaluate(QUESTIONNAIRE, {})
    assert (result.score, result.level, result.complete) == (0, Level.L1, False)


@pytest.mark.parametrize(
    ("question_id", "unknown_points"),
    [
        ("Q3", 3),
        ("Q4", 3),
        ("Q5", 3),
        ("Q6", 3),
        ("Q7", 2),
        ("Q8", 2),
        ("Q9", 3),
        ("Q10", 1),
        ("Q11", 2),
        ("Q12", 2),
    ],
)
def test_unknown_scores_as_the_second_highest_option(question_id: str, unknown_points: int) -> None:
    question = QUESTIONNAIRE.question(question_id)
    assert question is not None
    assert question.points(UNKNOWN) == unknown_points

    as_unknown = evaluate(QUESTIONNAIRE, {**BASELINE, question_id: UNKNOWN})
    as_second = evaluate(QUESTIONNAIRE, answers_with(**{question_id: unknown_points}))
    assert as_unknown.score == as_second.score
    assert as_unknown.level is as_second.level
    assert as_unknown.retriage == (question_id,)
    assert as_second.retriage == ()


def test_unknown_answers_are_listed_for_retriage_in_question_order() -> None:
    answers = {**HOSPITAL, "Q9": UNKNOWN, "Q4": UNKNOWN, "Q14d": UNKNOWN}
    result = evaluate(QUESTIONNAIRE, answers)
    assert result.retriage == ("Q4", "Q9", "Q14d")
    assert result.complete
    assert "Unknown answers to re-triage: Q4, Q9, Q14d." in result.explanation


def test_unknown_counts_for_the_level_rules_too() -> None:
    # Q12 unknown scores 2 (possible): below the "Q12 = 4" rule.
    assert evaluate(QUESTIONNAIRE, {**BASELINE, "Q12": UNKNOWN}).level is Level.L1
    # Q9 unknown scores 3 (several sectors): the "Q9 >= 3" rule fires.
    assert evaluate(QUESTIONNAIRE, {**BASELINE, "Q9": UNKNOWN}).rule == "Q9 >= 3"


def test_an_answer_by_number_equals_the_answer_by_key() -> None:
    by_number = {
        question.id: str(
            [option.key for option in question.options].index(HOSPITAL[question.id]) + 1
        )
        for question in SCORED
    }
    assert by_number["Q3"] == "4"  # essential is the fourth option
    assert evaluate(QUESTIONNAIRE, by_number) == evaluate(QUESTIONNAIRE, HOSPITAL)


@pytest.mark.parametrize(
    ("answer", "key"),
    [("1", "none"), ("5", "critical"), (" 4 ", "essential"), ("ESSENTIAL", "essential")],
)
def test_an_option_is_found_by_number_or_key(answer: str, key: str) -> None:
    question = QUESTIONNAIRE.question("q3")
    assert question is not None
    option = question.option(answer)
    assert option is not None
    assert option.key == key


@pytest.mark.parametrize("answer", ["0", "6", "99", "nonsense", ""])
def test_an_answer_that_is_no_option_is_refused(answer: str) -> None:
    question = QUESTIONNAIRE.question("Q3")
    assert question is not None
    assert question.option(answer) is None
    with pytest.raises(ValueError, match="Q3 has no option"):
        question.points(answer)


def test_a_partly_answered_questionnaire_is_not_complete() -> None:
    partial = dict(HOSPITAL)
    del partial["Q12"]
    assert not evaluate(QUESTIONNAIRE, partial).complete
    assert evaluate(QUESTIONNAIRE, HOSPITAL).complete  # unscored questions are not needed


def test_next_question_follows_the_questionnaire_order() -> None:
    first = next_question(QUESTIONNAIRE, {})
    assert first is not None
    assert first.id == "Q1"
    after = next_question(QUESTIONNAIRE, {"Q1": "fraud", "Q2": "declared", "Q3": "none"})
    assert after is not None
    assert after.id == "Q4"
    everything = {question.id: UNKNOWN for question in QUESTIONNAIRE.questions}
    assert next_question(QUESTIONNAIRE, everything) is None


@pytest.mark.parametrize(
    ("previous", "proposed", "expected"),
    [
        (None, Level.L1, Level.L1),
        (None, Level.L3, Level.L3),
        (Level.L1, Level.L2, Level.L2),
        (Level.L2, Level.L2, Level.L2),
        (Level.L3, Level.L1, Level.L3),
        (Level.L2, Level.L1, Level.L2),
    ],
)
def test_raise_only(previous: Level | None, proposed: Level, expected: Level) -> None:
    assert raise_only(previous, proposed) is expected


# Hypothesis: answer sets drawn from the real questionnaire, each scored question answered by
# one of its option keys, `unknown`, or left out.
def _answer(question: Question) -> st.SearchStrategy[str | None]:
    keys = [option.key for option in question.options]
    return st.sampled_from([*keys, UNKNOWN]) | st.none()


answer_sets = st.fixed_dictionaries({question.id: _answer(question) for question in SCORED}).map(
    lambda drawn: {qid: answer for qid, answer in drawn.items() if answer is not None}
)
levels = st.sampled_from([None, *Level])


@given(answer_sets, st.sampled_from(SCORED), st.data())
def test_the_score_never_falls_when_one_answer_rises(
    answers: dict[str, str], question: Question, data: st.DataObject
) -> None:
    current = answers.get(question.id)
    current_points = -1 if current is None else question.points(current)
    higher = [option.key for option in question.options if option.points > current_points]
    if not higher:
        return  # already at the top: nothing can rise
    raised = {**answers, question.id: data.draw(st.sampled_from(higher))}
    assert score(QUESTIONNAIRE, raised) >= score(QUESTIONNAIRE, answers)


@given(answer_sets)
def test_the_score_stays_within_0_and_100(answers: dict[str, str]) -> None:
    result = evaluate(QUESTIONNAIRE, answers)
    assert 0 <= result.score <= 100
    assert result.band == QUESTIONNAIRE.band_for(result.score)


@given(levels, answer_sets)
def test_raise_only_never_returns_a_level_below_the_previous(
    previous: Level | None, answers: dict[str, str]
) -> None:
    proposed = raise_only(previous, evaluate(QUESTIONNAIRE, answers).level)
    if previous is not None:
        assert proposed.rank >= previous.rank


_changes = st.lists(
    st.sampled_from(SCORED).flatmap(
        lambda question: st.tuples(
            st.just(question.id),
            st.sampled_from([*(option.key for option in question.options), UNKNOWN]),
        )
    ),
    max_size=25,
)


@given(answer_sets, _changes)
def test_retriage_never_lowers_the_proposal(
    answers: dict[str, str], changes: list[tuple[str, str]]
) -> None:
    proposal = evaluate(QUESTIONNAIRE, answers).level
    for question_id, option in changes:
        answers = {**answers, question_id: option}
        following = raise_only(proposal, evaluate(QUESTIONNAIRE, answers).level)
        assert following.rank >= proposal.rank
        proposal = following


# Loading: a broken questionnaire file is refused, naming the file.
def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "triage.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _shipped() -> dict[str, object]:
    data = yaml.safe_load(DEFAULT_TRIAGE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_shipped_file_loads_and_round_trips(tmp_path: Path) -> None:
    assert load_questionnaire(_write(tmp_path, _shipped())) == QUESTIONNAIRE


@pytest.mark.parametrize("condition", ["S >=", "S => 55", "Q3 >= two", "import os", "S >= 5 5"])
def test_a_malformed_level_condition_is_refused_at_load(tmp_path: Path, condition: str) -> None:
    data = _shipped()
    data["level_rules"] = [{"level": "L2", "when": [[condition]]}]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as refused:
        load_questionnaire(path)
    assert str(path) in str(refused.value)
    assert "level_rules" in str(refused.value)
    assert "not a condition" in str(refused.value)


def test_a_malformed_police_condition_is_refused_at_load(tmp_path: Path) -> None:
    data = _shipped()
    data["police_liaison_when"] = [["Q8 at least 2"]]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match="not a condition") as refused:
        load_questionnaire(path)
    assert str(path) in str(refused.value)


def test_duplicate_question_ids_are_refused_at_load(tmp_path: Path) -> None:
    data = _shipped()
    questions = data["questions"]
    assert isinstance(questions, list)
    data["questions"] = [*questions, questions[2]]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match="question ids repeat") as refused:
        load_questionnaire(path)
    assert str(path) in str(refused.value)


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        (
            {"id": "Q3", "text": "t", "kind": "scored", "weight": 15, "options": []},
            "at least two options",
        ),
        (
            {"id": "Q3", "text": "t", "kind": "scored", "options": [{"key": "a", "label": "A"}]},
            "positive weight",
        ),
        (
            {
                "id": "Q3",
                "text": "t",
                "kind": "choice",
                "options": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}],
            },
            "option keys repeat",
        ),
        (
            {
                "id": "Q3",
                "text": "t",
                "kind": "choice",
                "options": [{"key": "unknown", "label": "Unknown"}],
            },
            "implicit",
        ),
    ],
)
def test_a_malformed_question_is_refused_at_load(
    tmp_path: Path, question: dict[str, object], problem: str
) -> None:
    data = _shipped()
    data["questions"] = [question]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=problem) as refused:
        load_questionnaire(path)
    assert str(path) in str(refused.value)


def test_bands_out_of_order_are_refused(tmp_path: Path) -> None:
    data = _shipped()
    data["bands"] = [{"name": "High", "min_score": 55}, {"name": "Low", "min_score": 0}]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match="lowest min_score up"):
        load_questionnaire(path)


def test_bad_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text("questions: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML") as refused:
        load_questionnaire(path)
    assert str(path) in str(refused.value)


def test_the_models_accept_rules_built_in_code() -> None:
    rule = LevelRule(level=Level.L2, when=[["S >= 55"]])
    assert [str(condition) for clause in rule.clauses for condition in clause] == ["S >= 55"]
    assert Band(name="Low", min_score=20).min_score == 20
