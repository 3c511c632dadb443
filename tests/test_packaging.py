"""An installed rrt-bot (the Docker image) carries every data file its packages read."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_SUFFIXES = {".yaml", ".j2"}


def test_package_data_covers_every_data_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]
    covered = {
        path
        for package, globs in patterns.items()
        for glob in globs
        for path in (ROOT / package.replace(".", "/")).glob(glob)
    }
    data_files = {
        path
        for top in ("bot", "handlers", "storage", "config")
        for path in (ROOT / top).rglob("*")
        if path.suffix in DATA_SUFFIXES
    }
    assert data_files, "no data files found"
    assert data_files - covered == set()


DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
DEV_TOOLS = ("pytest", "mypy", "ruff", "hypothesis")


def dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    return [
        line.split(None, 1)[1].strip()
        for line in joined.splitlines()
        if line.split(None, 1)[:1] == [name]
    ]


def image_environment() -> dict[str, str]:
    pairs = " ".join(dockerfile_instructions("ENV")).split()
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_runtime_lock_carries_no_development_tool() -> None:
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", " ", "-"))
    }
    assert pinned, "requirements.lock pins nothing"
    assert {name for name in pinned if name.startswith(DEV_TOOLS)} == set()
    assert "prometheus-client" in pinned


def test_the_image_installs_the_runtime_lock() -> None:
    runs = " ".join(dockerfile_instructions("RUN"))
    assert "-r requirements.lock" in runs
    assert "requirements-dev.lock" not in DOCKERFILE


def test_the_build_context_leaves_out_environments_data_and_tests() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    expected = {".venv", ".venv-synapse", "var", "tests", ".git", "bench", "node_modules"}
    assert expected - ignored == set()
    copied = {
        source
        for arguments in dockerfile_instructions("COPY")
        if not arguments.startswith("--from")
        for source in arguments.split()[:-1]
    }
    assert copied & ignored == set()
    assert all((ROOT / source).exists() for source in copied)


def test_the_image_sets_only_known_settings() -> None:
    from config.settings import known_variables

    settings = {name for name in image_environment() if name.startswith("RRT_")}
    assert settings - set(known_variables()) == set()


def test_the_image_exposes_slack_http_and_metrics_and_checks_health() -> None:
    from config.settings import SlackSettings

    metrics_port = image_environment()["RRT_METRICS_PORT"]
    exposed = " ".join(dockerfile_instructions("EXPOSE")).split()
    assert sorted(exposed) == sorted([str(SlackSettings().http_port), metrics_port])
    (healthcheck,) = dockerfile_instructions("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "RRT_METRICS_PORT" in healthcheck
