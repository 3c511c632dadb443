from __future__ import annotations

from bot.adapters.matrix.keycaps import OPTION_KEYS
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
        "formatted_body": "<p>Level 2<br>\nTLP:AMBER &amp; &lt;internal&gt;</p>",
        "m.mentions": {},  # so "@room" in user text notifies nobody
    }


def test_markdown_becomes_html_and_the_body_stays_plain() -> None:
    text = "Confirm with `confirm`. **Level 2** proposed."

    content = message_content(Outbound(text))

    assert content["body"] == text
    assert content["formatted_body"] == (
        "<p>Confirm with <code>confirm</code>. <strong>Level 2</strong> proposed.</p>"
    )


def test_html_in_user_text_stays_text() -> None:
    content = message_content(Outbound('Note: <script>alert("x")</script> <b>loud</b>'))

    html = content["formatted_body"]
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &lt;b&gt;loud&lt;/b&gt;" in html


def test_buttons_become_numbered_options_one_per_line() -> None:
    content = message_content(Outbound("You are paged.", CHOICES))

    assert content["body"] == f"You are paged.\n\n1️⃣ Accept\n2️⃣ Decline <now>\n{OPTIONS_HINT}"
    assert content["formatted_body"] == (
        "<p>You are paged.</p>"
        f"<p>1️⃣ <b>Accept</b><br>2️⃣ <b>Decline &lt;now&gt;</b><br><i>{OPTIONS_HINT}</i></p>"
    )


def test_twelve_options_each_have_their_own_key() -> None:
    buttons = tuple(Button(f"Option {n}", f"answer Q1 {n}") for n in range(1, 13))

    lines = message_content(Outbound("Q1?", buttons))["body"].split("\n")

    assert lines[2:14] == [f"{key} Option {n}" for n, key in enumerate(OPTION_KEYS[:12], 1)]
    assert lines[11:14] == ["🔟 Option 10", "🕚 Option 11", "🕛 Option 12"]


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
