"""Files that hold key material: written whole, readable by the bot's user only."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Replaces `path` with `text`, the file created with mode 0600 from the start."""
    partial = path.with_name(path.name + ".new")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)


def read_private(path: Path) -> str | None:
    """The file's text, its mode tightened to 0600; None when there is no such file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    path.chmod(0o600)
    return text
