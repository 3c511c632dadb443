"""Runtime settings from the environment and a YAML file."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from config.errors import ConfigError
from config.settings import CONFIG_DIR, Settings, SlackSettings, known_variables, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start every test from an environment without settings of its own."""
    for name in list(os.environ):
        if name.upper().startswith("RRT_") or name.upper() == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "settings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/rrt.db"
    assert settings.organisation == "cert"
    assert settings.roster_file == CONFIG_DIR / "roster.example.yaml"
    assert settings.triage_file == CONFIG_DIR / "triage.yaml"
    assert settings.slack.mode == "socket"
    assert not settings.slack.configured
    assert not settings.matrix.configured


def test_rrt_variables_set_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRT_ORGANISATION", "fccu")
    monkeypatch.setenv("RRT_REPORTS_DIR", "/srv/reports")
    monkeypatch.setenv("RRT_DATABASE_URL", "postgresql+psycopg://rrt@db/rrt")
    settings = load_settings()
    assert settings.organisation == "fccu"
    assert settings.reports_dir == Path("/srv/reports")
    assert settings.database_url == "postgresql+psycopg://rrt@db/rrt"


def test_database_url_is_honoured_without_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://rrt@db/plain")
    assert load_settings().database_url == "postgresql+psycopg://rrt@db/plain"


def test_the_prefixed_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://rrt@db/plain")
    monkeypatch.setenv("RRT_DATABASE_URL", "postgresql+psycopg://rrt@db/prefixed")
    assert load_settings().database_url == "postgresql+psycopg://rrt@db/prefixed"


def test_nested_variables_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRT_SLACK__BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("RRT_SLACK__APP_TOKEN", "xapp-also-secret")
    monkeypatch.setenv("RRT_SLACK__HTTP_PORT", "8080")
    monkeypatch.setenv("RRT_MATRIX__HOMESERVER", "http://127.0.0.1:8008")

    settings = load_settings()

    assert isinstance(settings.slack.bot_token, SecretStr)
    assert settings.slack.bot_token.get_secret_value() == "xoxb-very-secret"
    assert settings.slack.http_port == 8080
    assert settings.slack.configured
    assert settings.matrix.homeserver == "http://127.0.0.1:8008"
    for shown in (repr(settings), str(settings), repr(settings.slack)):
        assert "xoxb-very-secret" not in shown
        assert "xapp-also-secret" not in shown


def test_a_file_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "organisation: ncc\n"
        "slack:\n  bot_token: xoxb-from-file\n  mode: http\n  signing_secret: s3cret\n"
        "matrix:\n  trusted_servers: [rrt.example, cert.example]\n",
    )
    settings = load_settings(path)
    assert settings.organisation == "ncc"
    assert settings.slack.mode == "http"
    assert settings.slack.configured
    assert settings.matrix.trusted_servers == ["rrt.example", "cert.example"]
    assert "xoxb-from-file" not in repr(settings)


def test_the_file_can_be_named_by_rrt_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RRT_CONFIG_FILE", str(write(tmp_path, "organisation: fccu\n")))
    assert load_settings().organisation == "fccu"


def test_the_environment_overlays_the_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        "organisation: ncc\n"
        "database_url: sqlite:///from-file.db\n"
        "slack:\n  bot_token: xoxb-from-file\n  app_token: xapp-from-file\n  http_port: 4000\n",
    )
    monkeypatch.setenv("RRT_SLACK__BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-env.db")

    settings = load_settings(path)

    assert settings.organisation == "ncc"  # only in the file
    assert settings.database_url == "sqlite:///from-env.db"
    slack = settings.slack
    assert slack.bot_token is not None
    assert slack.bot_token.get_secret_value() == "xoxb-from-env"  # the environment wins
    assert slack.app_token is not None
    assert slack.app_token.get_secret_value() == "xapp-from-file"  # the rest of slack stays
    assert slack.http_port == 4000


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "# nothing yet\n")) == Settings()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("slack:\n  http_port: lots\n", "slack.http_port"),
        ("slack:\n  http_port: 70000\n", "slack.http_port"),
        ("slack:\n  mode: carrier-pigeon\n", "slack.mode"),
        ("matrix:\n  encrypt: perhaps\n", "matrix.encrypt"),
        ("matrix:\n  trusted_servers: rrt.example\n", "matrix.trusted_servers"),
        ("organisaton: cert\n", "organisaton"),
        ("slack:\n  bot_tokn: xoxb\n", "slack.bot_tokn"),
        ("slack: yes\n", "slack"),
    ],
)
def test_an_invalid_file_names_the_file_and_the_field(
    tmp_path: Path, text: str, field: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: {field}: ")


def test_every_problem_in_a_file_is_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "organisaton: cert\nslack:\n  http_port: lots\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    lines = str(refused.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_bad_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "slack: {bot_token: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as refused:
        load_settings(path)
    assert str(path) in str(refused.value)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "plain words\n", "42\n"])
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="expected a mapping") as refused:
        load_settings(path)
    assert str(path) in str(refused.value)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="cannot read") as refused:
        load_settings(path)
    assert str(path) in str(refused.value)


def test_an_invalid_variable_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRT_SLACK__HTTP_PORT", "lots")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value).startswith("environment: slack.http_port: ")


@pytest.mark.parametrize(
    ("values", "configured"),
    [
        ({}, False),
        ({"bot_token": "x"}, False),
        ({"bot_token": "x", "app_token": "y"}, True),
        ({"bot_token": "x", "mode": "http"}, False),
        ({"bot_token": "x", "mode": "http", "signing_secret": "z"}, True),
        ({"app_token": "y", "signing_secret": "z"}, False),
    ],
)
def test_slack_is_configured_with_the_secrets_of_its_mode(
    values: dict[str, str], configured: bool
) -> None:
    assert Settings.model_validate({"slack": values}).slack.configured is configured


@pytest.mark.parametrize(
    ("values", "configured"),
    [
        ({}, False),
        ({"homeserver": "http://127.0.0.1:8008", "user_id": "@rrt:local"}, False),
        ({"homeserver": "http://h", "user_id": "@rrt:local", "password": "p"}, True),
        ({"homeserver": "http://h", "user_id": "@rrt:local", "access_token": "t"}, True),
        ({"user_id": "@rrt:local", "access_token": "t"}, False),
    ],
)
def test_matrix_is_configured_with_a_server_a_user_and_a_secret(
    values: dict[str, str], configured: bool
) -> None:
    assert Settings.model_validate({"matrix": values}).matrix.configured is configured


def test_a_misspelt_nested_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RRT_SLACK__BOT_TOKN", "xoxb")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == (
        "environment: RRT_SLACK__BOT_TOKN is not a setting; did you mean RRT_SLACK__BOT_TOKEN?"
    )


def test_every_misspelt_top_level_variable_is_refused_each_on_its_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RRT_ORGANISATON", "fccu")
    monkeypatch.setenv("RRT_METRICS_PROT", "9102")
    monkeypatch.setenv("RRT_NOTHING_LIKE_IT", "1")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value).splitlines() == [
        "environment: RRT_METRICS_PROT is not a setting; did you mean RRT_METRICS_PORT?",
        "environment: RRT_NOTHING_LIKE_IT is not a setting (see Configuration in README.md)",
        "environment: RRT_ORGANISATON is not a setting; did you mean RRT_ORGANISATION?",
    ]


def test_the_test_suites_knobs_and_the_drill_hook_are_not_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RRT_TEST_CRASH_RUNS", "50")
    monkeypatch.setenv("RRT_CRASH_AT", "inbox:1")
    assert load_settings().organisation


def test_the_known_variables_are_every_field_nested_ones_included() -> None:
    known = known_variables()
    assert {"RRT_CONFIG_FILE", "RRT_LOG_LEVEL", "RRT_METRICS_PORT", "RRT_SLACK"} <= set(known)
    assert "RRT_MATRIX__HOMESERVER" in known
    assert {f"RRT_SLACK__{name.upper()}" for name in SlackSettings.model_fields} <= set(known)


def test_service_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().metrics_port is None  # off unless asked for
    monkeypatch.setenv("RRT_LOG_LEVEL", "debug")
    monkeypatch.setenv("RRT_LOG_FORMAT", "json")
    monkeypatch.setenv("RRT_METRICS_PORT", "9102")
    settings = load_settings()
    assert (settings.log_level, settings.log_format, settings.metrics_port) == (
        "DEBUG",
        "json",
        9102,
    )


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, []),
        ({"mode": "http", "http_port": 8080}, []),  # tuning alone is no configuration
        ({"bot_token": "xoxb"}, ["RRT_SLACK__APP_TOKEN (or RRT_SLACK__MODE=http)"]),
        ({"app_token": "xapp"}, ["RRT_SLACK__BOT_TOKEN"]),
        ({"mode": "http", "signing_secret": "s"}, ["RRT_SLACK__BOT_TOKEN"]),
        ({"mode": "http", "bot_token": "xoxb"}, ["RRT_SLACK__SIGNING_SECRET"]),
        ({"bot_token": "xoxb", "app_token": "xapp"}, []),
    ],
)
def test_slack_names_what_a_partial_configuration_lacks(
    values: dict[str, object], missing: list[str]
) -> None:
    assert Settings.model_validate({"slack": values}).slack.missing() == missing


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, []),
        ({"store_dir": "/data/matrix", "encrypt": True}, []),
        ({"user_id": "@rrt:local", "password": "p"}, ["RRT_MATRIX__HOMESERVER"]),
        (
            {"homeserver": "http://h"},
            ["RRT_MATRIX__USER_ID", "RRT_MATRIX__ACCESS_TOKEN (or RRT_MATRIX__PASSWORD)"],
        ),
        ({"homeserver": "http://h", "user_id": "@rrt:local", "access_token": "t"}, []),
    ],
)
def test_matrix_names_what_a_partial_configuration_lacks(
    values: dict[str, object], missing: list[str]
) -> None:
    assert Settings.model_validate({"matrix": values}).matrix.missing() == missing


def test_a_yaml_error_never_quotes_the_line_that_may_hold_a_secret(tmp_path: Path) -> None:
    config = tmp_path / "rrt.yaml"
    config.write_text('slack:\n  bot_token: "xoxb-very-secret-token\n  mode: http\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(config)
    assert "xoxb-very-secret-token" not in str(refused.value)
    assert str(refused.value).startswith(f"{config}: not valid YAML: line ")


def test_the_display_time_zone_defaults_to_utc_and_can_be_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().display_zone == ZoneInfo("UTC")
    monkeypatch.setenv("RRT_DISPLAY_TIMEZONE", "Europe/Brussels")
    assert load_settings().display_zone == ZoneInfo("Europe/Brussels")


@pytest.mark.parametrize("zone", ["Europe/Bruxelles", "Europe", "", "/etc/passwd"])
def test_an_unknown_display_time_zone_is_refused(
    monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    monkeypatch.setenv("RRT_DISPLAY_TIMEZONE", zone)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == (
        f"environment: display_timezone: unknown time zone {zone!r}"
        " (use an IANA name, e.g. Europe/Brussels)"
    )
