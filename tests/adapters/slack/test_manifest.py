"""The app manifest asks Slack for exactly what the adapter listens to and calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.adapters.slack.app import SLASH_COMMAND

MANIFEST = Path(__file__).parents[3] / "config" / "slack-manifest.yaml"


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def test_declares_the_slash_command() -> None:
    (command,) = manifest()["features"]["slash_commands"]
    assert command["command"] == SLASH_COMMAND


def test_subscribes_to_the_events_the_adapter_translates() -> None:
    events = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    assert events == {
        "message.channels",
        "message.groups",
        "message.im",
        "reaction_added",
        "member_joined_channel",
    }


def test_interactivity_and_socket_mode_are_on() -> None:
    settings = manifest()["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True


def test_scopes_cover_the_web_api_calls() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])
    needed = {
        "commands",
        "chat:write",
        "channels:manage",
        "groups:write",
        "im:write",
        "pins:write",
        "reactions:read",
        "channels:history",
        "groups:history",
        "im:history",
        "files:write",
    }
    assert needed <= scopes
