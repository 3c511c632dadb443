"""Runtime settings: environment variables `RRT_*` and an optional YAML file (`RRT_CONFIG_FILE`).

Environment variables win over the file. Nested fields use a double underscore, e.g.
`RRT_SLACK__BOT_TOKEN`. `DATABASE_URL` is honoured as well as `RRT_DATABASE_URL`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError
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
    # The private key that signs the incident log's head (`<file>.pub` beside it); default
    # `rrt-log.key` beside the SQLite database, or `var/rrt-log.key` for PostgreSQL.
    log_key_file: Path | None = None
    # `<platform>:<room id>` (e.g. `matrix:!audit:example.org`): at every close the bot posts
    # the log head's hash there, so that a copy of the head is kept outside the database.
    audit_room: str | None = Field(default=None, pattern=r"^(slack|matrix|console):.+$")
    slack: SlackSettings = Field(default_factory=SlackSettings)
    matrix: MatrixSettings = Field(default_factory=MatrixSettings)

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
