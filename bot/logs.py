"""Logging for a bot run as a service: one line per record, in UTC, at a chosen level.

`text` is logfmt (`time=… level=info logger=rrt.serve message="…" platform=slack`), `json` one
JSON object per line; fields given with `extra=` come after the standard ones. A traceback is
kept inside its record's line (escaped), so that a log collector never splits a record.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Whose failures to connect are expected while a platform is out of reach: their tracebacks
# say nothing the message does not (the SDKs log one at every retry).
_NETWORK_LOGGERS = ("slack_sdk", "slack_bolt", "aiohttp", "nio", "bot.adapters")
# Chatty at INFO: an access line per HTTP request, the SDKs' notes at every (re)connection.
_QUIET_AT_INFO = ("aiohttp.access", "nio", "slack_sdk")
# A warning for every answer that is not what was asked, which the adapter reports itself.
_QUIET_BELOW_ERROR = ("nio.responses",)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    fields.update(
        (key, value)
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_")
    )
    if record.exc_info:
        fields["traceback"] = logging.Formatter().formatException(record.exc_info)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), default=str, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt(value)}" for key, value in record_fields(record).items())


def _logfmt(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\\\n\r\t'):
        return text
    return json.dumps(text, ensure_ascii=False)  # quoted, with newlines escaped


class QuietConnectionErrors(logging.Filter):
    """Drops the traceback of an expected connection failure logged by an SDK or an adapter,
    keeping the record's message and naming the error."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if _connection_error(error) and record.name.startswith(_NETWORK_LOGGERS):
            record.exc_info = None
            record.exc_text = None
            record.error = repr(error)
        return True


def _connection_error(error: BaseException | None) -> bool:
    if isinstance(error, OSError | TimeoutError):
        return True
    # An aiohttp error exists only once aiohttp is imported: a command without one never loads it.
    aiohttp = sys.modules.get("aiohttp")
    return aiohttp is not None and isinstance(error, aiohttp.ClientError)


def configure_logging(level: str, form: str, stream: TextIO | None = None) -> None:
    """Send every record to `stream` (stderr) in `form` ("text" or "json") from `level` up."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else LogfmtFormatter())
    handler.addFilter(QuietConnectionErrors())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet = logging.WARNING if logging.getLevelName(level) >= logging.INFO else logging.NOTSET
    for name in _QUIET_AT_INFO:
        logging.getLogger(name).setLevel(quiet)
    for name in _QUIET_BELOW_ERROR:
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.NOTSET)
