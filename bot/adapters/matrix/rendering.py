"""Outbound messages as Matrix event content: the plain text, and HTML from its Markdown."""

from __future__ import annotations

from functools import cache
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

from bot.adapters.matrix.keycaps import option_marker
from bot.port import Button, Outbound

HTML_FORMAT = "org.matrix.custom.html"
OPTIONS_HINT = "Reply with a number or react with it."


@cache
def _markdown() -> MarkdownIt:
    """Loaded at the first message sent, not at start-up: an idle bot does without it."""
    from markdown_it import MarkdownIt

    # Raw HTML off: a title or a note a user typed is shown as text, never as markup. A line
    # break in the text stays one, as the plain body shows it.
    return MarkdownIt("commonmark", {"html": False, "breaks": True, "xhtmlOut": False})


def _html(text: str) -> str:
    rendered: str = _markdown().render(text)
    return rendered.rstrip("\n")


def _options_text(buttons: tuple[Button, ...]) -> str:
    options = "\n".join(f"{option_marker(i)} {b.label}" for i, b in enumerate(buttons))
    return f"{options}\n{OPTIONS_HINT}"


def _options_html(buttons: tuple[Button, ...]) -> str:
    options = "<br>".join(
        f"{option_marker(i)} <b>{escape(b.label)}</b>" for i, b in enumerate(buttons)
    )
    return f"<p>{options}<br><i>{OPTIONS_HINT}</i></p>"


def _body(message: Outbound) -> dict[str, Any]:
    body, html = message.text, _html(message.text)
    if message.buttons:
        body = f"{body}\n\n{_options_text(message.buttons)}"
        html = f"{html}{_options_html(message.buttons)}"
    return {
        "msgtype": "m.text",
        "body": body,
        "format": HTML_FORMAT,
        "formatted_body": html,
        # Intentional mentions, none: "@room" in a repeated title or note notifies nobody.
        "m.mentions": {},
    }


def message_content(message: Outbound) -> dict[str, Any]:
    content = _body(message)
    if message.thread_of:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": message.thread_of,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": message.thread_of},
        }
    return content


def edit_content(original_event_id: str, message: Outbound) -> dict[str, Any]:
    """An `m.replace` of `original_event_id`; the "* " body is for clients without edits."""
    new = _body(message)
    return {
        **new,
        "body": f"* {new['body']}",
        "formatted_body": f"* {new['formatted_body']}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": original_event_id},
    }


def file_content(
    content_uri: str,
    filename: str,
    mimetype: str,
    size: int,
    title: str,
    keys: dict[str, Any] | None = None,  # key, iv, hashes: the upload was encrypted with them
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "msgtype": "m.file",
        "body": title or filename,
        "filename": filename,
        "info": {"mimetype": mimetype, "size": size},
    }
    if keys is None:
        content["url"] = content_uri
    else:
        content["file"] = {**keys, "url": content_uri, "mimetype": mimetype}
    return content
