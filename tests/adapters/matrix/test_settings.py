from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.matrix.settings import MatrixSettings


def test_needs_a_token_or_a_password(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="access token or a password"):
        MatrixSettings(homeserver="http://hs", user_id="@rrt:rrt.test", store_dir=tmp_path)


def test_server_name_comes_from_the_user_id(tmp_path: Path) -> None:
    settings = MatrixSettings(
        homeserver="http://hs", user_id="@rrt:example.org:8448", store_dir=tmp_path, password="x"
    )

    assert settings.server_name == "example.org:8448"
