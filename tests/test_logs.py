"""Service logs: one line per record, UTC time, level, logger, message and extra fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import aiohttp
import pytest

from bot.logs import JsonFormatter, LogfmtFormatter, QuietConnectionErrors, configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """`configure_logging` changes process-wide state: put it back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ("aiohttp.access", "nio", "nio.responses", "slack_sdk")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def record(
    name: str = "rrt.serve", message: str = "hello", error: BaseException | None = None
) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, message, (), None)
    made.created = 1764489600.25  # 2025-11-30 08:00:00.250 UTC
    if error is not None:
        try:
            raise error
        except BaseException as raised:
            made.exc_info = (type(raised), raised, raised.__traceback__)
    return made


def test_json_has_the_standard_fields_then_the_extra_ones() -> None:
    entry = record()
    entry.platform = "matrix"
    entry.failures = 3

    fields = json.loads(JsonFormatter().format(entry))

    assert fields == {
        "time": "2025-11-30T08:00:00.250Z",
        "level": "warning",
        "logger": "rrt.serve",
        "message": "hello",
        "platform": "matrix",
        "failures": 3,
    }


def test_a_traceback_stays_inside_its_line() -> None:
    entry = record(error=ValueError("broken\nacross lines"))
    for formatter in (JsonFormatter(), LogfmtFormatter()):
        line = formatter.format(entry)
        assert "\n" not in line
        assert "ValueError: broken" in line


def test_logfmt_quotes_only_values_that_need_it() -> None:
    entry = record(message='said "stop" = done')
    entry.platform = "slack"

    line = LogfmtFormatter().format(entry)

    assert line == (
        "time=2025-11-30T08:00:00.250Z level=warning logger=rrt.serve "
        'message="said \\"stop\\" = done" platform=slack'
    )


@pytest.mark.parametrize("name", ["slack_sdk.socket_mode", "nio.client", "bot.adapters.slack"])
def test_an_sdk_connection_failure_loses_its_traceback_but_names_the_error(name: str) -> None:
    entry = record(name, "Failed to connect; Retrying...", aiohttp.ClientConnectionError("down"))

    assert QuietConnectionErrors().filter(entry)

    assert entry.exc_info is None
    fields = json.loads(JsonFormatter().format(entry))
    assert "traceback" not in fields
    assert fields["error"] == "ClientConnectionError('down')"


def test_the_bots_own_failures_keep_their_traceback() -> None:
    entry = record("rrt.runtime", "failed", OSError("disk full"))
    QuietConnectionErrors().filter(entry)
    assert entry.exc_info is not None

    sdk_bug = record("slack_sdk", "failed", KeyError("url"))  # not a connection failure
    QuietConnectionErrors().filter(sdk_bug)
    assert sdk_bug.exc_info is not None


@pytest.mark.usefixtures("restored_logging")
def test_the_level_applies_and_chatty_libraries_are_quiet_at_info() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)

    logging.getLogger("rrt.serve").info("kept")
    logging.getLogger("rrt.serve").debug("below the level")
    logging.getLogger("aiohttp.access").info("GET /healthz 200")
    logging.getLogger("nio.responses").warning("Error validating response")
    logging.getLogger("slack_sdk.socket_mode").warning("kept too")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["kept", "kept too"]


@pytest.mark.usefixtures("restored_logging")
def test_debug_lets_every_library_speak() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream)

    logging.getLogger("aiohttp.access").info("GET /healthz 200")

    assert 'logger=aiohttp.access message="GET /healthz 200"' in stream.getvalue()
