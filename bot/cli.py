"""The `rrt` command line.

Each command imports what it needs when it runs, so that `rrt --version` and `--help` load no
library but Python's own, and `rrt log verify` none of the chat SDKs or charting.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from config.roster_defaults import DEFAULT_STALE_DAYS, KNOWN_PLATFORMS

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

    from config.settings import Settings

DEMO_DB = Path("var/demo.db")
# The shell's code for a process ended by SIGPIPE (128 + 13): the reader went away early.
BROKEN_PIPE_EXIT = 141


def _version() -> str:
    try:
        return version("rrt-bot")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _database_url(args: argparse.Namespace, settings: Settings) -> str:
    if getattr(args, "db", None):
        return f"sqlite:///{args.db}"
    return settings.database_url


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Start every configured platform; with none configured, play the console demo."""
    missing = [
        f"{platform}: {', '.join(names)}"
        for platform, names in (
            ("Slack", settings.slack.missing()),
            ("Matrix", settings.matrix.missing()),
        )
        if names
    ]
    if missing:
        # Half a configuration is a mistake: playing the demo instead would hide it.
        print("Not starting: settings missing for " + "; ".join(missing), file=sys.stderr)
        return 2
    if not (settings.slack.configured or settings.matrix.configured):
        print("No chat platform configured (see README): playing the console demo.\n")
        return cmd_demo(args, settings)
    import asyncio

    from bot.serve import serve

    return asyncio.run(serve(settings))


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.demo import run_demo

    db = Path(getattr(args, "db", None) or DEMO_DB)
    transcript = asyncio.run(run_demo(settings, db))
    if not getattr(args, "quiet", False):
        print(transcript)
    print(f"\nThe incident log is in {db}. Check it with: rrt log verify --db {db}")
    return 0


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.interactive import run_console

    db = Path(args.db or DEMO_DB.with_name("console.db"))
    return asyncio.run(run_console(settings, db, sys.stdin, print))


def cmd_log_verify(args: argparse.Namespace, settings: Settings) -> int:
    from storage.verify_cli import verify_report

    head = args.head
    if head is not None and head.startswith("@"):
        try:
            head = Path(head[1:]).read_text(encoding="utf-8")
        except OSError as error:
            print(f"cannot read the kept head from {head[1:]}: {error.strerror}")
            return 1
    url = _database_url(args, settings)
    ok, message = verify_report(url, args.key, settings.log_key_file, head)
    print(message)
    return 0 if ok else 1


def cmd_log_head(args: argparse.Namespace, settings: Settings) -> int:
    from storage.verify_cli import head_report

    ok, message = head_report(_database_url(args, settings), args.key, settings.log_key_file)
    print(message)
    return 0 if ok else 1


def cmd_log_sign_head(args: argparse.Namespace, settings: Settings) -> int:
    from storage.verify_cli import sign_head_report

    ok, message = sign_head_report(_database_url(args, settings), args.key or settings.log_key_file)
    print(message)
    return 0 if ok else 1


def cmd_roster_check(args: argparse.Namespace, settings: Settings) -> int:
    """Print problems, then warnings; only problems fail the check."""
    from datetime import date

    from config.roster_warnings import WarningRules, check_roster_file, configured_platforms

    path = Path(args.file)
    platforms = args.platform or configured_platforms(settings)
    rules = WarningRules(today=date.today(), platforms=platforms, stale_days=args.stale_days)
    checked = check_roster_file(path, rules)
    for problem in [*checked.problems, *checked.warnings]:
        print(problem.render(str(path)))
    if checked.problems:
        return 1
    count = len(checked.warnings)
    print(f"{path}: OK ({count} warning{'s' * (count != 1)})" if count else f"{path}: OK")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Regenerate an incident's report from its log."""
    from bot.core.clock import SystemClock
    from bot.reporting.files import RedReportRefused, write_report
    from bot.reporting.render import Stamp, render
    from config.roster import load_roster
    from storage.db import describe, sqlite_path
    from storage.sql_store import open_store

    url = _database_url(args, settings)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        # Reading a report must not leave an empty database behind.
        print(f"No database at {path}", file=sys.stderr)
        return 1
    store = open_store(url, key_file=settings.log_key_file)
    try:
        incident = store.get(args.incident)
        if incident is None:
            print(f"No incident {args.incident} in the database {describe(url)}", file=sys.stderr)
            return 1
        roster = load_roster(settings.roster_file)
        names = {p.id: (p.name, p.org) for p in roster.people}
        orgs = {org.id: org.name for org in roster.orgs}
        entry, head = store.log_head()
        stamp = Stamp(SystemClock().now(), entry, head, settings.display_zone)
        report = render(incident, store.log(incident.id), names, orgs, stamp)
    finally:
        store.close()
    if args.stdout:
        print(report.markdown)
        return 0
    try:
        paths = write_report(incident, report, Path(args.out or settings.reports_dir))
    except RedReportRefused as refused:
        print(f"{refused} Use --stdout to read it here.", file=sys.stderr)
        return 1
    print("\n".join(str(path) for path in paths))
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Write the annual evaluation (Markdown, HTML and charts) from every incident's log."""
    from datetime import UTC, datetime

    from bot.core.clock import SystemClock
    from bot.reporting.evaluation import evaluate
    from bot.reporting.evaluation_render import render_evaluation, write_evaluation
    from config.roster import load_roster
    from storage.sql_store import open_store

    store = open_store(_database_url(args, settings), key_file=settings.log_key_file)
    try:
        cases = [(incident, store.log(incident.id)) for incident in store.all_incidents()]
    finally:
        store.close()
    orgs = {person.id: person.org for person in load_roster(settings.roster_file).people}
    year_end = datetime(args.year + 1, 1, 1, tzinfo=UTC)
    evaluation = evaluate(args.year, cases, orgs, as_of=min(SystemClock().now(), year_end))
    paths = write_evaluation(render_evaluation(evaluation), Path(args.out or settings.reports_dir))
    print("\n".join(str(path) for path in paths))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="rrt", description="Rapid Reaction Team incident bot")
    root.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    root.add_argument("--config", type=Path, help="YAML settings file (or RRT_CONFIG_FILE)")
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("--db", help="SQLite file for the demo, when it plays")
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="play a scripted incident on the console platform")
    demo.add_argument("--db", help=f"SQLite file to write (default {DEMO_DB}, recreated)")
    demo.add_argument("--quiet", action="store_true", help="do not print the transcript")
    demo.set_defaults(func=cmd_demo)

    console = commands.add_parser("console", help="type commands as roster members")
    console.add_argument("--db", help="SQLite file (default var/console.db)")
    console.set_defaults(func=cmd_console)

    log_cmd = commands.add_parser("log", help="the incident log").add_subparsers(
        dest="log_command", required=True
    )
    public_key_help = (
        "public key checking the head signature (default: the .pub beside RRT_LOG_KEY_FILE, "
        "or beside the database's rrt-log.key)"
    )
    verify = log_cmd.add_parser(
        "verify", help="check the hash chain and the signed head; exit 1 when tampered"
    )
    verify.add_argument("--db", help="SQLite file (default: the configured database)")
    verify.add_argument("--key", type=Path, metavar="FILE", help=public_key_help)
    verify.add_argument(
        "--head",
        metavar="HEAD",
        help="a head printed by `rrt log head` (or @FILE holding one): the log must extend it",
    )
    verify.set_defaults(func=cmd_log_verify)
    head = log_cmd.add_parser(
        "head", help="print the signed head, to keep elsewhere (only when the log verifies)"
    )
    head.add_argument("--db", help="SQLite file (default: the configured database)")
    head.add_argument("--key", type=Path, metavar="FILE", help=public_key_help)
    head.set_defaults(func=cmd_log_head)
    sign_head = log_cmd.add_parser(
        "sign-head",
        help="sign the head again (lost or new key, after tampering was looked into), "
        "once the chain itself verifies",
    )
    sign_head.add_argument("--db", help="SQLite file (default: the configured database)")
    sign_head.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="private key file (default: RRT_LOG_KEY_FILE, or rrt-log.key beside the database)",
    )
    sign_head.set_defaults(func=cmd_log_sign_head)

    roster_cmd = commands.add_parser("roster", help="the roster").add_subparsers(
        dest="roster_command", required=True
    )
    check = roster_cmd.add_parser("check", help="report every problem in a roster file")
    check.add_argument("file")
    check.add_argument(
        "--platform",
        action="append",
        choices=KNOWN_PLATFORMS,
        help="expect a handle on this platform (repeatable; default: the configured ones)",
    )
    check.add_argument(
        "--stale-days",
        type=int,
        default=DEFAULT_STALE_DAYS,
        metavar="N",
        help=f"warn when an entry was last reviewed over N days ago (default {DEFAULT_STALE_DAYS})",
    )
    check.set_defaults(func=cmd_roster_check)
    report = commands.add_parser("report", help="regenerate an incident report from the log")
    report.add_argument("incident", help="e.g. INC-2026-0001")
    report.add_argument("--db", help="SQLite file (default: the configured database)")
    report.add_argument("--out", help="directory (default: the configured reports directory)")
    report.add_argument("--stdout", action="store_true", help="print the Markdown instead")
    report.set_defaults(func=cmd_report)
    evaluate = commands.add_parser("evaluate", help="write the annual evaluation")
    evaluate.add_argument("--year", type=int, required=True, help="e.g. 2026")
    evaluate.add_argument("--db", help="SQLite file (default: the configured database)")
    evaluate.add_argument("--out", help="directory (default: the configured reports directory)")
    evaluate.set_defaults(func=cmd_evaluate)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from bot.logs import configure_logging
    from config.errors import ConfigError
    from config.settings import load_settings

    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(f"Invalid configuration:\n{error}", file=sys.stderr)
        return 2
    configure_logging(
        settings.log_level or ("INFO" if args.func is cmd_run else "WARNING"), settings.log_format
    )
    try:
        code: int = args.func(args, settings)
        sys.stdout.flush()  # here, so that a closed pipe is caught below, not at exit
    except ConfigError as error:
        print(f"Invalid configuration:\n{error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (`| head -1`) went away. As Python's documentation on SIGPIPE advises:
        # point stdout at devnull so that the flush at exit does not fail again, and stop.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    except Exception as error:
        if not _is_database_error(error):
            raise
        print(_database_error(_database_url(args, settings), error), file=sys.stderr)
        return 1
    return code


def _is_database_error(error: Exception) -> TypeGuard[OperationalError]:
    # Only a command that opened a database raises one, and it imported SQLAlchemy to do so.
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(error, errors.OperationalError)


def _database_error(url: str, error: OperationalError) -> str:
    """One line naming the database (never its password) and the driver's first line."""
    from sqlalchemy.engine import make_url

    from storage.db import describe

    lines = str(error.orig or error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    password = make_url(url).password
    if password:
        reason = reason.replace(str(password), "***")
    return f"Database error on {describe(url)}: {reason}"


if __name__ == "__main__":
    sys.exit(main())
