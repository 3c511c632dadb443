"""How the Matrix adapter connects and paces itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class MatrixSettings:
    homeserver: str  # e.g. "https://matrix.example.org"
    user_id: str  # e.g. "@rrt:example.org"
    store_dir: Path  # nio's store (device keys when encryption is on)
    access_token: str | None = None  # either this or `password`
    password: str | None = None
    device_id: str | None = None  # else the one remembered from the last start, else new
    device_name: str = "rrt-bot"
    sync_timeout_ms: int = 30_000  # long-poll length of one sync
    timeline_limit: int = 50  # events per room per sync before paging back for the rest
    backoff_initial: float = 0.5  # seconds before the first reconnection attempt
    backoff_max: float = 30.0
    connection_attempts: int = 8  # for a single call; the sync loop retries forever
    rate_limit_attempts: int = 20
    # Seconds the bot waits for the key of a message it cannot decrypt before asking the
    # sender to send it again.
    undecryptable_timeout: float = 60.0

    def __post_init__(self) -> None:
        if not self.access_token and not self.password:
            raise ValueError("Matrix needs an access token or a password")

    @property
    def server_name(self) -> str:
        return self.user_id.split(":", 1)[1]
