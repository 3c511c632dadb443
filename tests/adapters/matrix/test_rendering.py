from __future__ import annotations

from bot.adapters.matrix.rendering import (
    OPTIONS_HINT,
    edit_content,
    file_content,
    message_content,
)
from bot.port import Button, Outbound

CHOICES = (Button("Accept", "a", "primary"), Button("Decline <now>", "d", "danger"))


def test_plain_message_has_body_and_html() -> None:
    content = message_content(Outbound("Level 2\nTLP:AMBER & <internal>"))

    assert content == {
        "msgtype": "m.text",
        "body": "Level 2\nTLP:AMBER & <internal>",
        "format": "org.matrix.custom.html",
        "formatted_body": "Level 2<br>TLP:AMBER &amp; &lt;internal&gt;",
        "m.mentions": {},  # so "@room" in user text notifies nobody
    }


def test_buttons_become_numbered_options() -> None:
    content = message_content(Outbound("You are paged.", CHOICES))

    assert content["body"] == f"You are paged.\n\n1️⃣ Accept  2️⃣ Decline <now>\n{OPTIONS_HINT}"
    assert "2️⃣ <b>Decline &lt;now&gt;</b>" in content["formatted_body"]


def test_thread_reply_relates_to_the_root() -> None:
    content = message_content(Outbound("noted", thread_of="$root"))

    assert content["m.relates_to"] == {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$root"},
    }


def test_edit_replaces_the_original() -> None:
    content = edit_content("$headline", Outbound("Contained"))

    assert content["body"] == "* Contained"
    assert content["m.new_content"] == message_content(Outbound("Contained"))
    assert content["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$headline"}


def test_file_content() -> None:
    assert file_content("mxc://rrt.test/abc", "r.pdf", "application/pdf", 12, "") == {
        "msgtype": "m.file",
        "body": "r.pdf",
        "filename": "r.pdf",
        "url": "mxc://rrt.test/abc",
        "info": {"mimetype": "application/pdf", "size": 12},
    }
