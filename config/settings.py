"""Runtime settings: environment variables `RRT_*` and an optional YAML file (`RRT_CONFIG_FILE`).

Environment variables win over the file. Nested fields use a double underscore, e.g.
`RRT_SLACK__BOT_TOKEN`. `DATABASE_URL` is honoured as well as `RRT_DATABASE_URL`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.errors import ConfigError, describe_validation, read_yaml

CONFIG_DIR = Path(__file__).parent


class SlackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key must not pass unnoticed

    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None  # Socket Mode
    signing_secret: SecretStr | None = None  # HTTP mode
    mode: Literal["socket", "http"] = "socket"
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=3000, ge=1, le=65535)
    api_url: str | None = None  # another Web API base URL, e.g. a proxy

    @property
    def configured(self) -> bool:
        if self.bot_token is None:
            return False
        return (
            self.app_token is not None
            if self.mode == "socket"
            else (self.signing_secret is not None)
        )

    def missing(self) -> list[str]:
        """The variables still needed once any Slack secret is set (none set: none missing)."""
        if self.bot_token is None and self.app_token is None and self.signing_secret is None:
            return []
        needed = {"bot_token": self.bot_token}
        if self.mode == "socket":
            needed["app_token"] = self.app_token
        else:
            needed["signing_secret"] = self.signing_secret
        missing = [f"RRT_SLACK__{name.upper()}" for name, value in needed.items() if value is None]
        return [
            f"{name} (or RRT_SLACK__MODE=http)" if name.endswith("APP_TOKEN") else name
            for name in missing
        ]


class MatrixSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    homeserver: str | None = None
    user_id: str | None = None
    access_token: SecretStr | None = None
    password: SecretStr | None = None
    device_id: str | None = None
    store_dir: Path = Path("var/matrix")
    space_id: str | None = None
    encrypt: bool = False
    trusted_servers: list[str] = Field(default_factory=list)  # accept invites from these too

    @property
    def configured(self) -> bool:
        has_secret = self.access_token is not None or self.password is not None
        return bool(self.homeserver and self.user_id and has_secret)

    def missing(self) -> list[str]:
        """The variables still needed once any of these is set (none set: none missing)."""
        has_secret = self.access_token is not None or self.password is not None
        if not (self.homeserver or self.user_id or has_secret):
            return []
        missing = [
            f"RRT_MATRIX__{name.upper()}"
            for name, value in (("homeserver", self.homeserver), ("user_id", self.user_id))
            if not value
        ]
        if not has_secret:
            missing.append("RRT_MATRIX__ACCESS_TOKEN (or RRT_MATRIX__PASSWORD)")
        return missing


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RRT_", env_nested_delimiter="__", extra="forbid", populate_by_name=True
    )

    database_url: str = Field(
        default="sqlite:///var/rrt.db",
        validation_alias=AliasChoices("RRT_DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    organisation: str = "cert"  # the owning organisation of incidents declared here
    roster_file: Path = CONFIG_DIR / "roster.example.yaml"
    policy_file: Path = CONFIG_DIR / "policy.yaml"
    triage_file: Path = CONFIG_DIR / "triage.yaml"
    reports_dir: Path = Path("var/reports")
    # The IANA time zone times are shown in (e.g. Europe/Brussels); stored times stay UTC.
    display_timezone: str = "UTC"
    # The private key that signs the incident log's head (`<file>.pub` beside it); default
    # `rrt-log.key` beside the SQLite database, or `var/rrt-log.key` for PostgreSQL.
    log_key_file: Path | None = None
    # `<platform>:<room id>` (e.g. `matrix:!audit:example.org`): at every close the bot posts
    # the log head's hash there, so that a copy of the head is kept outside the database.
    audit_room: str | None = Field(default=None, pattern=r"^(slack|matrix|console):.+$")
    # Default: INFO for `rrt run`, WARNING for the commands that print their own result.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    log_format: Literal["text", "json"] = "text"  # text: logfmt, one line per record
    # `/healthz` and `/metrics` are served on this port when it is set.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "0.0.0.0"
    slack: SlackSettings = Field(default_factory=SlackSettings)
    matrix: MatrixSettings = Field(default_factory=MatrixSettings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, level: object) -> object:
        return level.upper() if isinstance(level, str) else level

    @field_validator("display_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a directory
            message = f"unknown time zone {name!r} (use an IANA name, e.g. Europe/Brussels)"
            raise ValueError(message) from None
        return name

    @property
    def display_zone(self) -> ZoneInfo:
        return ZoneInfo(self.display_timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def load_settings(config_file: Path | None = None) -> Settings:
    """Settings from the YAML file (if any) overlaid by the environment.

    An invalid file or variable raises ConfigError naming the source, the field and the problem.
    """
    path = config_file or _env_config_file()
    file_values: dict[str, object] = {}
    if path is not None:
        data = read_yaml(path)
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        file_values = data or {}
    _refuse_unknown_variables(os.environ)
    source = str(path) if path else "environment"
    try:
        from_env = Settings()
        if not file_values:
            return from_env
        merged = _deep_merge(
            Settings.model_validate(file_values).model_dump(),
            from_env.model_dump(exclude_unset=True),
        )
        return Settings.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(describe_validation(source, error)) from None


def known_variables() -> list[str]:
    """Every `RRT_*` variable a setting is read from, nested ones included."""
    # RRT_CRASH_AT is the crash hook of the scripted drill (`python -m bot.scripted`).
    names = ["RRT_CONFIG_FILE", "RRT_CRASH_AT"]
    for name, field in Settings.model_fields.items():
        names.append(f"RRT_{name.upper()}")
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names.extend(f"RRT_{name.upper()}__{sub.upper()}" for sub in nested.model_fields)
    return names


def _refuse_unknown_variables(environ: Mapping[str, str]) -> None:
    """A misspelt variable would otherwise be ignored without a word, unlike a misspelt key
    in the file."""
    known = known_variables()
    bare = [name.removeprefix("RRT_") for name in known]
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        # RRT_TEST_* are the test suite's own knobs (seeds, run counts), inherited by the
        # processes it starts.
        if not upper.startswith("RRT_") or upper.startswith("RRT_TEST_") or upper in known:
            continue
        # Matched without the prefix, which every name shares and would make all look close.
        close = [f"RRT_{match}" for match in difflib.get_close_matches(upper[4:], bare, n=1)]
        hint = f"; did you mean {close[0]}?" if close else " (see Configuration in README.md)"
        problems.append(f"environment: {name} is not a setting{hint}")
    if problems:
        raise ConfigError("\n".join(problems))


def _env_config_file() -> Path | None:
    value = os.environ.get("RRT_CONFIG_FILE")
    return Path(value) if value else None


def _deep_merge(base: dict[str, object], override: dict[str, object]) -> dict[str, object]:
    result = dict(base)
    for key, value in override.items():
        current = result.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            result[key] = _deep_merge(current, value)
        else:
            result[key] = value
    return result
