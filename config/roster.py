"""Loads the roster YAML and reports every problem in it with its line number."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import Node

from bot.core.roster import Organisation, Person, Roster, consistency_issues
from config.errors import ConfigError
from config.policy import load_policy
from config.yaml_lines import duplicate_keys, line_of, parse

SECTIONS = ("orgs", "people")


@dataclass(frozen=True, slots=True)
class RosterProblem:
    line: int
    message: str
    warning: bool = False  # worth fixing, but the roster still loads

    def render(self, source: str) -> str:
        severity = "warning: " if self.warning else ""
        return f"{source}:{self.line}: {severity}{self.message}"


@dataclass(frozen=True, slots=True)
class ParsedRoster:
    """The roster (None when there are problems) and what later checks need to place lines."""

    roster: Roster | None
    problems: list[RosterProblem]
    node: Node | None = None  # None when the text is not a roster at all
    everyone: list[Person] = field(default_factory=list)  # file order; stand-ins when invalid
    valid_people: list[tuple[int, Person]] = field(default_factory=list)  # (index, person)


def _where(data: Any, loc: Sequence[str | int]) -> str:
    """`person alice-peeters: languages.1` reads better than `people.3.languages.1`."""
    if len(loc) >= 2 and isinstance(loc[1], int):
        section, index, rest = loc[0], loc[1], loc[2:]
        entry = data.get(section, [])[index] if isinstance(data, dict) else None
        label = "person" if section == "people" else "organisation"
        ident = entry.get("id") if isinstance(entry, dict) else None
        head = f"{label} {ident}" if isinstance(ident, str) else f"{section}[{index}]"
        return ".".join([head, *(str(part) for part in rest)])
    return ".".join(str(part) for part in loc) or "roster"


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def _validate(
    model: type[BaseModel], section: str, data: Any, node: Node | None
) -> tuple[list[tuple[int, Any]], list[RosterProblem]]:
    entries = data.get(section) if isinstance(data, dict) else None
    if entries is None:
        return [], []
    if not isinstance(entries, list):
        where = line_of(node, [section])
        return [], [RosterProblem(where, f"{section}: expected a list of entries")]
    valid: list[tuple[int, Any]] = []
    problems: list[RosterProblem] = []
    for index, entry in enumerate(entries):
        try:
            valid.append((index, model.model_validate(entry)))
        except ValidationError as error:
            for problem in error.errors():
                loc = (section, index, *problem["loc"])
                message = f"{_where(data, loc)}: {_message(problem['msg'])}"
                problems.append(RosterProblem(line_of(node, loc), message))
    return valid, problems


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _stand_in(model: type[BaseModel], entry: Any) -> Any:
    """An unvalidated copy of a malformed entry's identifying fields, so checks across
    entries (duplicates, unknown organisations and roles) still see it."""
    raw = entry if isinstance(entry, dict) else {}
    handles = raw.get("handles")
    return model.model_construct(
        id=raw.get("id") if isinstance(raw.get("id"), str) else "",
        name="",
        kind="other",
        org=raw.get("org") if isinstance(raw.get("org"), str) else "",
        roles=_strings(raw.get("roles")),
        handles={
            str(k): v
            for k, v in (handles.items() if isinstance(handles, dict) else ())
            if isinstance(v, str)
        },
    )


def _complete(
    model: type[BaseModel], section: str, data: Any, valid: list[tuple[int, Any]]
) -> list[Any]:
    """Every entry in file order: the validated ones, and stand-ins for the rest."""
    entries = data.get(section) if isinstance(data.get(section), list) else []
    checked = dict(valid)
    return [checked.get(index) or _stand_in(model, entry) for index, entry in enumerate(entries)]


def parse_roster(
    text: str, roles: Collection[str] | None = None
) -> tuple[Roster | None, list[RosterProblem]]:
    """The roster, or None with every problem found; `roles` limits the role names allowed."""
    parsed = read_roster(text, roles)
    return parsed.roster, parsed.problems


def read_roster(text: str, roles: Collection[str] | None = None) -> ParsedRoster:
    """Like `parse_roster`, keeping the YAML nodes and the entries that did validate."""
    try:
        node, data = parse(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = RosterProblem(line, f"not valid YAML: {getattr(error, 'problem', error)}")
        return ParsedRoster(None, [problem])
    problems = [RosterProblem(line, f"duplicate key {key!r}") for line, key in duplicate_keys(node)]
    if not isinstance(data, dict):
        missing = RosterProblem(1, "expected `orgs:` and `people:` sections")
        return ParsedRoster(None, [*problems, missing])
    for key in data:
        if key not in SECTIONS:
            problems.append(RosterProblem(line_of(node, [key]), f"unknown section {key!r}"))
    orgs, org_problems = _validate(Organisation, "orgs", data, node)
    people, people_problems = _validate(Person, "people", data, node)
    problems += org_problems + people_problems
    everyone = _complete(Person, "people", data, people)
    for loc, message in consistency_issues(
        everyone, _complete(Organisation, "orgs", data, orgs), roles
    ):
        if loc[-1] == "org" and not everyone[int(loc[1])].org:
            continue  # a missing organisation is already reported
        problems.append(RosterProblem(line_of(node, loc), f"{_where(data, loc)}: {message}"))
    problems.sort(key=lambda problem: problem.line)
    roster = None if problems else Roster(orgs=[o for _, o in orgs], people=[p for _, p in people])
    return ParsedRoster(roster, problems, node, everyone, people)


def roster_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None


def check_roster(path: Path, roles: Collection[str] | None = None) -> list[RosterProblem]:
    """Every problem in the file; role names default to those of the packaged policy."""
    _, problems = parse_roster(
        roster_text(path), roles if roles is not None else load_policy().roles
    )
    return problems


def load_roster(path: Path, roles: Collection[str] | None = None) -> Roster:
    """The roster, or ConfigError listing each problem as FILE:LINE: message."""
    roster, problems = parse_roster(
        roster_text(path), roles if roles is not None else load_policy().roles
    )
    if roster is None:
        raise ConfigError("\n".join(problem.render(str(path)) for problem in problems))
    return roster
