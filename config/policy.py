"""Loads and validates the incident policy (config/policy.yaml by default)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field, model_validator

from bot.core.cadence import CadenceRule
from bot.core.levels import Level
from bot.core.paging import PagingRule
from bot.core.regclocks import ClockRules
from bot.core.roster import TlpLabel
from bot.core.team import TeamRules
from bot.core.tlp import DEFAULT_TLP
from config.errors import load_model

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")


class Policy(TeamRules):
    """The whole policy; team assembly takes it as its `TeamRules`."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[str, str] = Field(min_length=1)  # role -> what it does
    default_tlp: TlpLabel = DEFAULT_TLP
    paging: dict[Level, PagingRule]
    cadence: dict[Level, CadenceRule]
    regulatory: ClockRules

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        for level, rule in self.levels.items():
            unknown = [role for role in rule.team if role not in self.roles]
            if unknown:
                raise ValueError(f"levels.{level.value}.team: unknown role(s) {', '.join(unknown)}")
        for section, table in (("paging", self.paging), ("cadence", self.cadence)):
            missing = [level.value for level in Level if level not in table]
            if missing:
                raise ValueError(f"{section}: missing level(s) {', '.join(missing)}")
        return self

    @property
    def role_names(self) -> list[str]:
        return list(self.roles)


def load_policy(path: Path | None = None) -> Policy:
    """Raises ConfigError naming the file, the field and the problem."""
    return load_model(path or DEFAULT_POLICY, Policy)
