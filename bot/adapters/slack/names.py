"""Slack channel names: lowercase letters, digits, `-` and `_`, at most 80 characters."""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 80
_FALLBACK = "incident"
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_REPEATED_HYPHENS = re.compile(r"-{2,}")


def channel_name(slug: str) -> str:
    """Turn any slug into a name Slack accepts (accents dropped, other characters become `-`)."""
    ascii_text = unicodedata.normalize("NFKD", slug).encode("ascii", "ignore").decode()
    name = _NOT_ALLOWED.sub("-", ascii_text.lower())
    name = _REPEATED_HYPHENS.sub("-", name).strip("-_")
    name = name[:MAX_LENGTH].rstrip("-_")
    return name or _FALLBACK


def numbered(name: str, attempt: int) -> str:
    """The name to try after `name` was taken `attempt - 1` times: `name-2`, `name-3`, …"""
    if attempt <= 1:
        return name
    suffix = f"-{attempt}"
    return name[: MAX_LENGTH - len(suffix)].rstrip("-_") + suffix
