"""Block Kit rendering of the bot's messages and of the declaration modal."""

from __future__ import annotations

from typing import Any

from bot.core.tlp import DEFAULT_TLP, TLP
from bot.port import Button, Outbound

Block = dict[str, Any]

BUTTON_ACTION_PREFIX = "rrt_button_"
DECLARE_CALLBACK_ID = "rrt_declare"
TITLE_BLOCK = "title"  # the declaration form's title field, where its error is shown
# Block Kit limits: section text, button label, elements per actions block.
SECTION_TEXT_LIMIT = 3000
BUTTON_LABEL_LIMIT = 75
BUTTONS_PER_BLOCK = 25


def escape(text: str) -> str:
    """Slack's control characters, escaped as Slack documents: text the bot repeats (a title,
    a note) can then never become a mention such as <!channel>, nor a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fallback_text(message: Outbound) -> str:
    """Plain text for notifications and clients without Block Kit: options are numbered."""
    options = [f"{number}. {button.label}" for number, button in enumerate(message.buttons, 1)]
    return escape("\n".join([message.text, *options]))


def message_blocks(message: Outbound) -> list[Block]:
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in _chunks(escape(message.text) or " ", SECTION_TEXT_LIMIT)
    ]
    buttons = [_button(number, button) for number, button in enumerate(message.buttons)]
    for start in range(0, len(buttons), BUTTONS_PER_BLOCK):
        blocks.append({"type": "actions", "elements": buttons[start : start + BUTTONS_PER_BLOCK]})
    return blocks


def _button(index: int, button: Button) -> Block:
    element: Block = {
        "type": "button",
        "action_id": f"{BUTTON_ACTION_PREFIX}{index}",
        "text": {"type": "plain_text", "text": button.label[:BUTTON_LABEL_LIMIT]},
        "value": button.value,
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    return element


def _chunks(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


def tlp_option_value(label: TLP) -> str:
    """The `--tlp` argument for a label, e.g. `amber+strict`."""
    return label.value.removeprefix("TLP:").lower()


def declaration_modal(channel_id: str) -> Block:
    """The form `/incident` opens without arguments; the channel travels in private_metadata."""
    options = [
        {"text": {"type": "plain_text", "text": label.value}, "value": tlp_option_value(label)}
        for label in TLP
    ]
    default = next(option for option in options if option["value"] == tlp_option_value(DEFAULT_TLP))
    return {
        "type": "modal",
        "callback_id": DECLARE_CALLBACK_ID,
        "private_metadata": channel_id,
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": TITLE_BLOCK,
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "value", "max_length": 150},
            },
            {
                "type": "input",
                "block_id": "exercise",
                "optional": True,
                "label": {"type": "plain_text", "text": "Exercise"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "value",
                    "options": [
                        {
                            "text": {"type": "plain_text", "text": "This is an exercise"},
                            "value": "exercise",
                        }
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "tlp",
                "label": {"type": "plain_text", "text": "TLP"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "options": options,
                    "initial_option": default,
                },
            },
        ],
    }
