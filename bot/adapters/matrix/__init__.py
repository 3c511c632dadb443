"""The Matrix platform: a matrix-nio client implementing `ChatPlatform`."""

import sys

# matrix-nio's key store (peewee) imports psycopg only to name PostgreSQL's errors, which it
# never meets: on SQLite that alone would hold some 9 MB. So psycopg is kept out while nio
# loads, unless already loaded (a PostgreSQL database), and can be imported as usual after.
_KEEP_OUT = "psycopg" not in sys.modules
if _KEEP_OUT:
    sys.modules["psycopg"] = None  # type: ignore[assignment]  # makes `import psycopg` fail
try:
    import nio  # noqa: F401
finally:
    if _KEEP_OUT:
        del sys.modules["psycopg"]

from bot.adapters.matrix.client import MatrixAdapter  # noqa: E402
from bot.adapters.matrix.settings import MatrixSettings  # noqa: E402

__all__ = ["MatrixAdapter", "MatrixSettings"]
