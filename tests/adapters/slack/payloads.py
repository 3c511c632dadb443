"""Slack request bodies as Slack sends them, and v0 request signing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0WARROOM"
USER = "U0ALICE01"


def signed_headers(
    body: str, secret: str = SIGNING_SECRET, at: int | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time()) if at is None else at)
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


def slash_command(
    text: str, trigger_id: str = "13345224609.738474920.8088930838d88f008e0"
) -> dict[str, str]:
    return {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": "T0TEAM001",
        "team_domain": "rrt",
        "channel_id": CHANNEL,
        "channel_name": "inc-2026-0007",
        "user_id": USER,
        "user_name": "alice",
        "command": "/incident",
        "text": text,
        "api_app_id": "A0APP0001",
        "response_url": "https://hooks.slack.test/commands/T0TEAM001/1/abc",
        "trigger_id": trigger_id,
    }


def form(fields: dict[str, str]) -> str:
    return urlencode(fields)


def interactive_form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def block_action(value: str, message_ts: str, trigger_id: str = "trig-1") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": "T0TEAM001", "domain": "rrt"},
        "user": {"id": USER, "username": "alice", "team_id": "T0TEAM001"},
        "api_app_id": "A0APP0001",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": trigger_id,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": CHANNEL,
            "is_ephemeral": False,
        },
        "channel": {"id": CHANNEL, "name": "inc-2026-0007"},
        "message": {"type": "message", "ts": message_ts, "text": "Q3"},
        "response_url": "https://hooks.slack.test/actions/T0TEAM001/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": "rrt_button_1",
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "Essential entity"},
                "value": value,
                "action_ts": "1764489700.123456",
            }
        ],
    }


def view_submission(title: str, exercise: bool, tlp: str, channel: str = CHANNEL) -> dict[str, Any]:
    checked = (
        [{"text": {"type": "plain_text", "text": "x"}, "value": "exercise"}] if exercise else []
    )
    return {
        "type": "view_submission",
        "team": {"id": "T0TEAM001", "domain": "rrt"},
        "user": {"id": USER, "username": "alice", "team_id": "T0TEAM001"},
        "api_app_id": "A0APP0001",
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "trigger_id": "trig-view",
        "view": {
            "id": "V0MODAL01",
            "type": "modal",
            "callback_id": "rrt_declare",
            "private_metadata": channel,
            "hash": "1764489700.abc",
            "state": {
                "values": {
                    "title": {"value": {"type": "plain_text_input", "value": title}},
                    "exercise": {"value": {"type": "checkboxes", "selected_options": checked}},
                    "tlp": {
                        "value": {
                            "type": "static_select",
                            "selected_option": {
                                "text": {"type": "plain_text", "text": tlp},
                                "value": tlp,
                            },
                        }
                    },
                }
            },
        },
    }


def event_callback(event: dict[str, Any], event_id: str = "Ev0000001") -> dict[str, Any]:
    return {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": "T0TEAM001",
        "api_app_id": "A0APP0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1764489700,
        "authorizations": [
            {
                "team_id": "T0TEAM001",
                "user_id": "UBOTUSER1",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
    }


def message(text: str, ts: str = "1764489800.000100", **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": CHANNEL,
        "user": USER,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "group",
        **extra,
    }


def reaction_added(reaction: str, item_ts: str) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": USER,
        "reaction": reaction,
        "item_user": "UBOTUSER1",
        "item": {"type": "message", "channel": CHANNEL, "ts": item_ts},
        "event_ts": "1764489900.000200",
    }


def member_joined(user: str = USER) -> dict[str, Any]:
    return {
        "type": "member_joined_channel",
        "user": user,
        "channel": CHANNEL,
        "channel_type": "G",
        "team": "T0TEAM001",
        "inviter": "UBOTUSER1",
        "event_ts": "1764489950.000300",
    }
