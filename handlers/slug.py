"""Platform-safe room names."""

from __future__ import annotations

import re
import unicodedata


def slugify(text: str, limit: int = 80) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-")


def room_slug(incident_id: str, title: str, limit: int = 80) -> str:
    head = incident_id.lower()
    tail = slugify(title, limit - len(head) - 1)
    return f"{head}-{tail}" if tail else head
