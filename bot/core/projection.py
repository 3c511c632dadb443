"""What an incident's log says the incident is: the checkable part of its snapshot.

The snapshot is what the bot works from; the log is the signed record. `rrt log verify`
rebuilds these fields from the log and names any incident whose stored snapshot disagrees, so
an edited snapshot (a label quietly lowered, an answer changed) is caught like an edited log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.events import LogRecord
from bot.core.incident import Incident


@dataclass
class Projection:
    tlp: str = ""
    state: str = ""
    answers: dict[str, str] = field(default_factory=dict)
    named_orgs: list[str] = field(default_factory=list)

    def differences(self, other: Projection) -> list[str]:
        """What differs, as `field: this ≠ other`."""
        found = []
        for name in ("tlp", "state", "answers", "named_orgs"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                found.append(f"{name}: {mine} ≠ {theirs}")
        return found


# The kinds of entry that set these fields; every other kind leaves them as they are.
KINDS = frozenset(
    ("declared", "tlp_changed", "state_changed", "answered", "orgs_named", "orgs_unnamed")
)


def project(records: Sequence[LogRecord]) -> Projection:
    """Replay one incident's log entries, in order."""
    return replay((record.event.kind, record.event.data) for record in records)


def replay(entries: Iterable[tuple[str, Mapping[str, Any]]]) -> Projection:
    """The same from (kind, data) pairs, in order: entries of other kinds may be left out."""
    seen = Projection()
    for kind, data in entries:
        match kind:
            case "declared":
                seen.tlp, seen.state = str(data["tlp"]), "declared"
            case "tlp_changed":
                seen.tlp = str(data["to_tlp"])
            case "state_changed":
                seen.state = str(data["to_state"])
            case "answered":
                seen.answers[str(data["question"])] = str(data["option"])
            case "orgs_named":
                seen.named_orgs.extend(str(org) for org in data["orgs"])
            case "orgs_unnamed":
                gone = {str(org) for org in data["orgs"]}
                seen.named_orgs = [org for org in seen.named_orgs if org not in gone]
    return seen


def stored(incident: Incident) -> Projection:
    """The same fields as the snapshot holds them."""
    return Projection(
        tlp=incident.tlp.value,
        state=incident.state.value,
        answers={key: answer.option for key, answer in incident.answers.items()},
        named_orgs=list(incident.named_orgs),
    )
