"""The composition root wires what the settings name."""

from __future__ import annotations

import stat
from pathlib import Path

from bot.bootstrap import build
from tests.fixtures.roster import small_roster
from tests.fixtures.settings import settings_in


def test_the_log_is_signed_with_the_key_file_the_settings_name(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "rrt-log.key"
    key.parent.mkdir()
    bot = build(settings_in(tmp_path, log_key_file=key), roster=small_roster())
    try:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert (tmp_path / "keys" / "rrt-log.key.pub").exists()
        assert not (tmp_path / "rrt-log.key").exists()  # not the default beside the database
    finally:
        bot.close()
