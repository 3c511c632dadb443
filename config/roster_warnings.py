"""Roster entries that load but need attention: stale, unreachable, a role with no backup, or
languages that are never used."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from yaml.nodes import MappingNode, Node

from bot.core.roster import Person
from bot.core.team import AFFECTED_KINDS
from config.policy import load_policy
from config.roster import ParsedRoster, RosterProblem, read_roster, roster_text
from config.roster_defaults import DEFAULT_STALE_DAYS, KNOWN_PLATFORMS
from config.settings import Settings
from config.yaml_lines import line_of


@dataclass(frozen=True, slots=True)
class WarningRules:
    today: date
    platforms: Sequence[str] = ()  # a handle is expected on each of these
    stale_days: int = DEFAULT_STALE_DAYS


@dataclass(frozen=True, slots=True)
class RosterCheck:
    problems: list[RosterProblem]
    warnings: list[RosterProblem]


def configured_platforms(settings: Settings) -> list[str]:
    configured = {"slack": settings.slack.configured, "matrix": settings.matrix.configured}
    return [platform for platform in KNOWN_PLATFORMS if configured[platform]]


def _warning(line: int, message: str) -> RosterProblem:
    return RosterProblem(line, message, warning=True)


def _stale(person: Person, rules: WarningRules) -> str | None:
    if person.reviewed is None:
        return f"person {person.id}: never reviewed"
    if (rules.today - person.reviewed).days > rules.stale_days:
        return (
            f"person {person.id}: last reviewed {person.reviewed}, over {rules.stale_days} days ago"
        )
    return None


def _person_warnings(parsed: ParsedRoster, rules: WarningRules) -> list[RosterProblem]:
    warnings: list[RosterProblem] = []
    for index, person in parsed.valid_people:
        line = line_of(parsed.node, ["people", index])
        stale = _stale(person, rules)
        if stale:
            warnings.append(_warning(line, stale))
        missing = [platform for platform in rules.platforms if platform not in person.handles]
        if missing:
            message = f"person {person.id}: no handle for {', '.join(missing)}"
            warnings.append(_warning(line, message))
    return warnings


def _key_line(node: Node | None, key: str) -> int:
    if isinstance(node, MappingNode):
        for key_node, _ in node.value:
            if key_node.value == key:
                return int(key_node.start_mark.line) + 1
    return 1


def _thin_roles(parsed: ParsedRoster, roles: Collection[str]) -> list[RosterProblem]:
    """Roles one absence away from going unfilled."""
    warnings: list[RosterProblem] = []
    for role in roles:
        holders = [(index, p) for index, p in enumerate(parsed.everyone) if p.holds(role)]
        if not holders:
            line = _key_line(parsed.node, "people")
            warnings.append(_warning(line, f"role {role!r}: nobody holds it"))
        elif len(holders) == 1:
            index, holder = holders[0]
            line = line_of(parsed.node, ["people", index, "roles", holder.roles.index(role)])
            warnings.append(_warning(line, f"role {role!r}: only {holder.id} holds it"))
    return warnings


def _unused_languages(parsed: ParsedRoster) -> list[RosterProblem]:
    """Only an organisation that may be the affected entity is spoken to in its languages."""
    kinds = " or ".join(AFFECTED_KINDS)
    return [
        _warning(
            line_of(parsed.node, ["orgs", index, "languages"]),
            f"organisation {org.id}: languages are used only for the affected entity "
            f"(kind {kinds}), not for a {org.kind}",
        )
        for index, org in enumerate(parsed.roster.orgs if parsed.roster else [])
        if org.languages and org.kind not in AFFECTED_KINDS
    ]


def roster_warnings(
    parsed: ParsedRoster, roles: Collection[str], rules: WarningRules
) -> list[RosterProblem]:
    """Warnings in line order; none when the file could not be read as a roster at all."""
    if parsed.node is None:
        return []
    warnings = _person_warnings(parsed, rules) + _thin_roles(parsed, roles)
    warnings += _unused_languages(parsed)
    return sorted(warnings, key=lambda warning: warning.line)


def check_roster_file(
    path: Path, rules: WarningRules, roles: Collection[str] | None = None
) -> RosterCheck:
    """Problems and warnings; role names default to those of the packaged policy."""
    known_roles = roles if roles is not None else list(load_policy().roles)
    parsed = read_roster(roster_text(path), known_roles)
    return RosterCheck(parsed.problems, roster_warnings(parsed, known_roles, rules))
