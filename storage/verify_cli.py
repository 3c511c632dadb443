"""`rrt log verify`: check the incident log's hash chain and say so in one line."""

from __future__ import annotations

from storage.db import make_engine
from storage.log import verify
from storage.migrations import current_version


def verify_report(url: str) -> tuple[bool, str]:
    """(intact, message), e.g. "log OK: 42 entries" or "log TAMPERED at entry 17: ..."."""
    engine = make_engine(url)
    try:
        if current_version(engine) == 0:
            return False, "no incident log here: the database was never initialised"
        result = verify(engine)
    finally:
        engine.dispose()
    if result.ok:
        noun = "entry" if result.checked == 1 else "entries"
        return True, f"log OK: {result.checked} {noun}"
    where = f" at entry {result.first_bad_seq}" if result.first_bad_seq is not None else ""
    return False, f"log TAMPERED{where}: {result.problem}"
