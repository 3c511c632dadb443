"""The deterministic triage engine (policy §2): score, severity band and proposed level.

The questionnaire is data (config/triage.yaml); this module only computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.conditions import Clause, describe, first_matching, parse_rule
from bot.core.levels import Level

UNKNOWN = "unknown"


class QuestionKind(StrEnum):
    SCORED = "scored"  # contributes weight × points / max to the score
    CHOICE = "choice"  # routing or communications only
    TIME = "time"  # a timestamp (T0)
    DUTY = "duty"  # a reporting duty: yes / no / unknown


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key must not pass unnoticed

    key: str
    label: str
    points: int = 0


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    kind: QuestionKind
    weight: float = 0
    options: list[Option] = Field(default_factory=list)
    help: str = ""

    @model_validator(mode="after")
    def _check(self) -> Question:
        keys = [option.key for option in self.options]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.id}: option keys repeat")
        if UNKNOWN in keys:
            raise ValueError(f"{self.id}: 'unknown' is implicit; do not list it")
        if self.kind is QuestionKind.SCORED:
            if self.weight <= 0:
                raise ValueError(f"{self.id}: a scored question needs a positive weight")
            if len(self.options) < 2:
                raise ValueError(f"{self.id}: a scored question needs at least two options")
        return self

    @property
    def max_points(self) -> int:
        return max((option.points for option in self.options), default=0)

    @property
    def unknown_points(self) -> int:
        """`unknown` scores as the second-highest option (policy §2)."""
        distinct = sorted({option.points for option in self.options}, reverse=True)
        return distinct[1] if len(distinct) > 1 else distinct[0] if distinct else 0

    def option(self, answer: str) -> Option | None:
        """Find an option by key or by 1-based number; None when there is no such option."""
        wanted = answer.strip().lower()
        if wanted.isdigit():
            number = int(wanted)
            return self.options[number - 1] if 1 <= number <= len(self.options) else None
        return next((option for option in self.options if option.key == wanted), None)

    def points(self, answer: str) -> int:
        if answer == UNKNOWN:
            return self.unknown_points
        option = self.option(answer)
        if option is None:
            raise ValueError(f"{self.id} has no option {answer!r}")
        return option.points


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    min_score: float


class LevelRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Level
    when: list[list[str]]

    @model_validator(mode="after")
    def _parse(self) -> LevelRule:
        parse_rule(self.when)  # refuse malformed conditions at load time
        return self

    @property
    def clauses(self) -> tuple[Clause, ...]:
        return parse_rule(self.when)


class Questionnaire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[Question]
    bands: list[Band]
    level_rules: list[LevelRule]
    default_level: Level = Level.L1
    police_liaison_when: list[list[str]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Questionnaire:
        ids = [question.id for question in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids repeat")
        if not self.bands or sorted(b.min_score for b in self.bands) != [
            b.min_score for b in self.bands
        ]:
            raise ValueError("bands must be listed from the lowest min_score up")
        parse_rule(self.police_liaison_when)
        return self

    def question(self, question_id: str) -> Question | None:
        wanted = question_id.strip().upper()
        return next((q for q in self.questions if q.id.upper() == wanted), None)

    @property
    def scored(self) -> list[Question]:
        return [q for q in self.questions if q.kind is QuestionKind.SCORED]

    def band_for(self, score: float) -> str:
        name = self.bands[0].name
        for band in self.bands:
            if score >= band.min_score:
                name = band.name
        return name


@dataclass(frozen=True, slots=True)
class TriageResult:
    score: float
    band: str
    level: Level
    rule: str  # the rule that fired, e.g. "S >= 55"; "" for the default level
    complete: bool  # every scored question answered
    retriage: tuple[str, ...]  # questions answered `unknown`
    police_liaison_required: bool

    @property
    def explanation(self) -> str:
        reason = f"because {self.rule}" if self.rule else "no escalation rule matched"
        text = f"Score {self.score:.1f} ({self.band}) → {self.level.value}, {reason}."
        if self.retriage:
            text += f" Unknown answers to re-triage: {', '.join(self.retriage)}."
        if self.police_liaison_required:
            text += " Police liaison required."
        return text


def answer_points(questionnaire: Questionnaire, answers: Mapping[str, str]) -> dict[str, float]:
    """Points per answered question with options (unknown → second-highest)."""
    values: dict[str, float] = {}
    for question in questionnaire.questions:
        answer = answers.get(question.id)
        if answer is not None and question.kind is not QuestionKind.TIME:
            values[question.id] = question.points(answer)
    return values


def score(questionnaire: Questionnaire, answers: Mapping[str, str]) -> float:
    total = 0.0
    for question in questionnaire.scored:
        answer = answers.get(question.id)
        if answer is not None:
            total += question.weight * question.points(answer) / question.max_points
    return round(total + 1e-9, 1)  # 63.075 is 63.1 as the policy's worked example rounds it


def evaluate(questionnaire: Questionnaire, answers: Mapping[str, str]) -> TriageResult:
    """Score the answers and find the first level rule that matches."""
    values = answer_points(questionnaire, answers)
    total = score(questionnaire, answers)
    values["S"] = total
    level, rule = questionnaire.default_level, ""
    for level_rule in questionnaire.level_rules:
        clause = first_matching(level_rule.clauses, values)
        if clause is not None:
            level, rule = level_rule.level, describe(clause)
            break
    police = first_matching(parse_rule(questionnaire.police_liaison_when), values) is not None
    return TriageResult(
        score=total,
        band=questionnaire.band_for(total),
        level=level,
        rule=rule,
        complete=all(q.id in answers for q in questionnaire.scored),
        retriage=tuple(q.id for q in questionnaire.questions if answers.get(q.id) == UNKNOWN),
        police_liaison_required=police,
    )


def raise_only(previous: Level | None, proposed: Level) -> Level:
    """A re-triage never lowers the proposal (policy §1)."""
    if previous is not None and previous.rank > proposed.rank:
        return previous
    return proposed


def next_question(questionnaire: Questionnaire, answers: Mapping[str, str]) -> Question | None:
    return next((q for q in questionnaire.questions if q.id not in answers), None)
