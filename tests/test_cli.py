"""The `rrt` command line, run as a real process in a scratch directory."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.fixtures.cli import rrt

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_ROSTER = REPO / "config" / "roster.example.yaml"
# Port 1 refuses connections: a PostgreSQL that is not there.
UNREACHABLE = "postgresql://rrt:s3cret-pw@127.0.0.1:1/rrt"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo run for the module; tests that tamper with it work on a copy."""
    workdir = tmp_path_factory.mktemp("demo")
    played = rrt("demo", "--db", "demo.db", "--quiet", cwd=workdir)
    assert played.returncode == 0, played.stderr
    assert "rrt log verify --db demo.db" in played.stdout
    assert "Ransomware" not in played.stdout  # --quiet leaves the transcript out
    # The key that signs the log head, and its public half, beside the database.
    assert sorted(path.name for path in workdir.iterdir()) == [
        "demo.db",
        "rrt-log.key",
        "rrt-log.key.pub",
    ]
    return workdir / "demo.db"


def copy_of(db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy.db"
    shutil.copyfile(db, copy)
    return copy


def public_key_beside(db: Path, tmp_path: Path) -> None:
    """Verification needs the public key only: put it where `--db` looks for it."""
    shutil.copyfile(db.with_name("rrt-log.key.pub"), tmp_path / "rrt-log.key.pub")


def test_the_demo_leaves_a_log_that_verifies(demo_db: Path) -> None:
    verified = rrt("log", "verify", "--db", str(demo_db), cwd=demo_db.parent)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("log OK: ")
    assert "entries" in verified.stdout


def test_an_edited_log_row_is_named(demo_db: Path, tmp_path: Path) -> None:
    db = copy_of(demo_db, tmp_path)
    with sqlite3.connect(db) as connection:
        (seq, data) = connection.execute(
            "SELECT seq, data FROM log WHERE kind = 'answered' ORDER BY seq LIMIT 1"
        ).fetchone()
        connection.execute(
            "UPDATE log SET data = ? WHERE seq = ?", (data.replace("Q1", "Q13"), seq)
        )
    connection.close()

    verified = rrt("log", "verify", "--db", str(db), cwd=tmp_path)

    assert verified.returncode == 1
    assert f"log TAMPERED at entry {seq}" in verified.stdout


def test_a_deleted_log_row_is_noticed(demo_db: Path, tmp_path: Path) -> None:
    db = copy_of(demo_db, tmp_path)
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM log WHERE seq = 3")
    connection.close()

    verified = rrt("log", "verify", "--db", str(db), cwd=tmp_path)

    assert verified.returncode == 1
    assert "log TAMPERED" in verified.stdout


def test_a_cut_tail_with_the_head_moved_back_is_caught_by_its_signature(
    demo_db: Path, tmp_path: Path
) -> None:
    db = copy_of(demo_db, tmp_path)
    public_key_beside(demo_db, tmp_path)
    with sqlite3.connect(db) as connection:
        (last,) = connection.execute("SELECT max(seq) FROM log").fetchone()
        connection.execute("DELETE FROM log WHERE seq > ?", (last - 3,))
        connection.execute(
            "UPDATE log_head SET seq = ?, hash = (SELECT hash FROM log WHERE seq = ?)",
            (last - 3, last - 3),
        )
    connection.close()

    verified = rrt("log", "verify", "--db", str(db), cwd=tmp_path)

    assert verified.returncode == 1
    assert verified.stdout.startswith(
        f"log TAMPERED: the log head signature does not match entry {last - 3}"
    )


def test_a_printed_head_is_checked_by_verify(demo_db: Path, tmp_path: Path) -> None:
    db = copy_of(demo_db, tmp_path)
    public_key_beside(demo_db, tmp_path)
    key = tmp_path / "rrt-log.key.pub"

    printed = rrt("log", "head", "--db", str(db), "--key", str(key), cwd=tmp_path)
    assert printed.returncode == 0, printed.stdout + printed.stderr
    kept = printed.stdout.strip()
    assert kept.startswith("rrt-log-head/1 seq=")
    (tmp_path / "kept.txt").write_text(kept + "\n", encoding="utf-8")

    for given in (kept, "@kept.txt"):
        verified = rrt("log", "verify", "--db", str(db), "--head", given, cwd=tmp_path)
        assert verified.returncode == 0, verified.stdout
        assert "it extends the kept head at entry" in verified.stdout

    wrong = rrt("log", "verify", "--db", str(db), "--head", "seq=1 hash=" + "f" * 64, cwd=tmp_path)
    assert wrong.returncode == 1
    assert "log TAMPERED at entry 1: entry 1 is not the one in the kept head" in wrong.stdout


def test_log_verify_on_an_empty_database_fails(tmp_path: Path) -> None:
    verified = rrt("log", "verify", "--db", "empty.db", cwd=tmp_path)
    assert verified.returncode == 1
    assert "never initialised" in verified.stdout


def test_the_example_roster_checks_clean(tmp_path: Path) -> None:
    checked = rrt("roster", "check", str(EXAMPLE_ROSTER), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    assert all(": warning: " in line for line in lines[:-1])
    assert lines[-1].startswith(f"{EXAMPLE_ROSTER}: OK")


def test_a_broken_roster_prints_file_and_line_per_problem(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "orgs:\n"
        "  - id: cert\n"
        "    name: CERT\n"
        "    kind: cert\n"
        "people:\n"
        "  - id: alice\n"
        "    name: Alice\n"
        "    org: nowhere\n"
        "    roles: [coordinator, wizard]\n"
        "    max_tlp: PURPLE\n",
        encoding="utf-8",
    )

    checked = rrt("roster", "check", "roster.yaml", cwd=tmp_path)

    assert checked.returncode == 1
    lines = [line for line in checked.stdout.splitlines() if ": warning: " not in line]
    assert [line.split(":")[1] for line in lines] == ["8", "9", "10"]
    assert all(line.startswith("roster.yaml:") for line in lines)
    assert "unknown organisation 'nowhere'" in lines[0]
    assert "unknown role 'wizard'" in lines[1]
    assert "PURPLE" in lines[2]


def test_an_invalid_settings_file_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slack:\n  http_port: lots\n", encoding="utf-8")

    checked = rrt("--config", "bad.yaml", "roster", "check", str(EXAMPLE_ROSTER), cwd=tmp_path)

    assert checked.returncode == 2
    assert checked.stdout == ""
    assert "bad.yaml: slack.http_port:" in checked.stderr


def test_an_unknown_setting_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("organisaton: cert\n", encoding="utf-8")
    checked = rrt("--config", "bad.yaml", "log", "verify", "--db", "x.db", cwd=tmp_path)
    assert checked.returncode == 2
    assert "bad.yaml: organisaton:" in checked.stderr
    assert not (tmp_path / "x.db").exists()  # nothing ran


def test_a_missing_subcommand_is_a_usage_error(tmp_path: Path) -> None:
    called = rrt(cwd=tmp_path)
    assert called.returncode == 2
    assert "usage: rrt" in called.stderr


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    called = rrt("--version", cwd=tmp_path)
    assert called.returncode == 0, called.stderr
    assert called.stdout.strip() == f"rrt {version('rrt-bot')}"


HEAVY = (
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.postgresql",
    "sqlmodel",
    "pydantic",
    "slack_bolt",
    "nio",
    "matplotlib",
    "aiohttp",
    "jinja2",
    "prometheus_client",
)
# The command line run in a process of its own, which then names the heavy libraries (and
# heavy parts of them) it loaded.
LOADED_BY = f"""
import sys
from bot.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
names = set(sys.modules) | {{name.split(".")[0] for name in sys.modules}}
print("loaded:", *sorted(names & set({HEAVY!r})))
"""


def loaded_by(*args: str, cwd: Path) -> list[str]:
    ran = subprocess.run(
        [sys.executable, "-c", LOADED_BY, *args],
        cwd=cwd,
        env={
            **{name: value for name, value in os.environ.items() if not name.startswith("RRT_")},
            "PYTHONPATH": str(REPO),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return ran.stdout.strip().splitlines()[-1].split()[1:]


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_no_heavy_library(flag: str, tmp_path: Path) -> None:
    assert loaded_by(flag, cwd=tmp_path) == []


def test_log_verify_loads_no_chat_sdk_nor_charting(demo_db: Path) -> None:
    loaded = loaded_by("log", "verify", "--db", str(demo_db), cwd=demo_db.parent)

    assert "sqlalchemy" in loaded  # it did check the log
    assert not {"slack_bolt", "nio", "matplotlib", "aiohttp"} & set(loaded)


def test_log_verify_reads_through_sqlalchemy_core_alone(demo_db: Path) -> None:
    loaded = loaded_by("log", "verify", "--db", str(demo_db), cwd=demo_db.parent)

    assert "sqlalchemy" in loaded
    # Neither the ORM and table models nor PostgreSQL's dialect on SQLite, nor report rendering.
    assert not {"sqlalchemy.orm", "sqlmodel", "sqlalchemy.dialects.postgresql"} & set(loaded)
    assert not {"jinja2", "prometheus_client"} & set(loaded)


def test_a_report_piped_into_a_reader_that_leaves_early_ends_quietly(demo_db: Path) -> None:
    """`rrt report ... --stdout | head -1`: the reader here closes its end before `rrt` even
    writes, so every write meets a closed pipe."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("RRT_") and name.upper() != "DATABASE_URL"
    }
    env.update(HOME=str(demo_db.parent), PYTHONPATH=str(REPO))
    args = ["report", "INC-2026-0001", "--db", str(demo_db), "--stdout"]
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=demo_db.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        process.stdout.close()
        _, stderr = process.communicate(timeout=120)

    assert process.returncode == 141  # the broken pipe was met, and handled
    assert stderr.decode() == ""


@pytest.mark.parametrize("url", [UNREACHABLE, UNREACHABLE.replace("postgresql:", "postgres:")])
@pytest.mark.parametrize(
    "command",
    [("log", "verify"), ("report", "INC-2026-0001", "--stdout"), ("evaluate", "--year", "2026")],
)
def test_an_unreachable_postgresql_is_one_line_naming_its_host(
    url: str, command: tuple[str, ...], tmp_path: Path
) -> None:
    (tmp_path / "settings.yaml").write_text(f"database_url: {url}\n", encoding="utf-8")

    called = rrt("--config", "settings.yaml", *command, cwd=tmp_path)

    assert called.returncode == 1
    assert called.stdout == ""
    lines = called.stderr.strip().splitlines()
    assert len(lines) == 1, called.stderr
    assert lines[0].startswith("Database error on ")
    assert "127.0.0.1:1" in lines[0]
    assert "s3cret-pw" not in called.stderr


def test_a_report_from_a_missing_database_creates_none(tmp_path: Path) -> None:
    called = rrt("report", "INC-2099-0001", "--db", "var/none.db", cwd=tmp_path)

    assert called.returncode == 1
    assert called.stderr.strip() == "No database at var/none.db"
    assert not (tmp_path / "var").exists()


def test_a_report_of_an_unknown_incident_names_the_database_read(
    demo_db: Path, tmp_path: Path
) -> None:
    db = copy_of(demo_db, tmp_path)

    called = rrt("report", "INC-2099-0001", "--db", str(db), cwd=tmp_path)

    assert called.returncode == 1
    assert called.stderr.strip().endswith(f"No incident INC-2099-0001 in the database {db}")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"RRT_ORGANISATON": "fccu"},
            "RRT_ORGANISATON is not a setting; did you mean RRT_ORGANISATION?",
        ),
        (
            {"RRT_MATRIX__HOMESERVR": "https://matrix.example.org"},
            "RRT_MATRIX__HOMESERVR is not a setting; did you mean RRT_MATRIX__HOMESERVER?",
        ),
        ({"rrt_slack__bot_tokn": "xoxb-1"}, "did you mean RRT_SLACK__BOT_TOKEN?"),
    ],
)
def test_a_misspelt_variable_is_refused_naming_the_closest_setting(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    called = rrt("run", "--db", "demo.db", cwd=tmp_path, env=env)

    assert called.returncode == 2
    assert named in called.stderr
    assert not (tmp_path / "demo.db").exists()  # nothing ran


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"RRT_SLACK__BOT_TOKEN": "xoxb-1"}, "Slack: RRT_SLACK__APP_TOKEN"),
        (
            {"RRT_SLACK__MODE": "http", "RRT_SLACK__SIGNING_SECRET": "s"},
            "Slack: RRT_SLACK__BOT_TOKEN",
        ),
        (
            {"RRT_SLACK__MODE": "http", "RRT_SLACK__BOT_TOKEN": "xoxb-1"},
            "Slack: RRT_SLACK__SIGNING_SECRET",
        ),
        (
            {"RRT_MATRIX__HOMESERVER": "https://matrix.example.org"},
            "Matrix: RRT_MATRIX__USER_ID, RRT_MATRIX__ACCESS_TOKEN (or RRT_MATRIX__PASSWORD)",
        ),
        ({"RRT_MATRIX__PASSWORD": "pw"}, "Matrix: RRT_MATRIX__HOMESERVER, RRT_MATRIX__USER_ID"),
    ],
)
def test_a_half_configured_platform_is_refused_naming_what_is_missing(
    env: dict[str, str], missing: str, tmp_path: Path
) -> None:
    called = rrt("run", "--db", "demo.db", cwd=tmp_path, env=env)

    assert called.returncode == 2
    assert called.stdout == ""  # no demo instead
    assert missing in called.stderr
    assert not (tmp_path / "demo.db").exists()


def test_tuning_a_platform_without_its_secrets_still_plays_the_demo(tmp_path: Path) -> None:
    # As the Docker image does: a store directory set for a Matrix that may never be used.
    called = rrt(
        "run", "--db", "demo.db", cwd=tmp_path, env={"RRT_MATRIX__STORE_DIR": "/data/matrix"}
    )

    assert called.returncode == 0, called.stderr
    assert "playing the console demo" in called.stdout


def test_logs_are_one_json_object_per_line_at_the_chosen_level(tmp_path: Path) -> None:
    env = {"RRT_LOG_FORMAT": "json", "RRT_LOG_LEVEL": "info"}
    called = rrt("demo", "--db", "demo.db", "--quiet", cwd=tmp_path, env=env)

    assert called.returncode == 0, called.stderr
    records = [json.loads(line) for line in called.stderr.splitlines()]
    assert records, "the demo logged nothing at INFO"
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert all(record["time"].endswith("Z") for record in records)

    quiet = rrt("demo", "--db", "quiet.db", "--quiet", cwd=tmp_path, env={"RRT_LOG_LEVEL": "ERROR"})
    assert quiet.returncode == 0
    assert quiet.stderr == ""
