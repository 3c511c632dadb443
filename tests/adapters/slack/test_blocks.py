from __future__ import annotations

from bot.adapters.slack.blocks import (
    SECTION_TEXT_LIMIT,
    declaration_modal,
    fallback_text,
    message_blocks,
)
from bot.port import Button, Outbound

QUESTION = Outbound(
    text="*Q3* Affected entity?",
    buttons=(
        Button("None", "answer q3 0"),
        Button("Essential entity", "answer q3 3", style="primary"),
        Button("Unknown", "answer q3 unknown", style="danger"),
    ),
)


def test_section_then_actions_with_one_button_per_choice() -> None:
    section, actions = message_blocks(QUESTION)
    assert section == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Q3* Affected entity?"},
    }
    assert actions["type"] == "actions"
    assert [(b["action_id"], b["value"]) for b in actions["elements"]] == [
        ("rrt_button_0", "answer q3 0"),
        ("rrt_button_1", "answer q3 3"),
        ("rrt_button_2", "answer q3 unknown"),
    ]
    assert "style" not in actions["elements"][0]
    assert actions["elements"][1]["style"] == "primary"
    assert actions["elements"][2]["style"] == "danger"


def test_fallback_text_numbers_the_choices() -> None:
    assert fallback_text(QUESTION) == (
        "*Q3* Affected entity?\n1. None\n2. Essential entity\n3. Unknown"
    )
    assert fallback_text(Outbound("hi")) == "hi"


def test_plain_message_has_no_actions() -> None:
    assert [block["type"] for block in message_blocks(Outbound("hello"))] == ["section"]


def test_long_text_is_split_into_sections() -> None:
    blocks = message_blocks(Outbound("x" * (SECTION_TEXT_LIMIT + 5)))
    assert [len(block["text"]["text"]) for block in blocks] == [SECTION_TEXT_LIMIT, 5]


def test_many_buttons_spread_over_actions_blocks() -> None:
    buttons = tuple(Button(str(n), f"v{n}") for n in range(30))
    blocks = message_blocks(Outbound("pick", buttons))
    assert [len(block.get("elements", [])) for block in blocks] == [0, 25, 5]


def test_declaration_modal_fields() -> None:
    modal = declaration_modal("C0WARROOM")
    assert modal["callback_id"] == "rrt_declare"
    assert modal["private_metadata"] == "C0WARROOM"
    assert [block["block_id"] for block in modal["blocks"]] == ["title", "exercise", "tlp"]
    tlp = modal["blocks"][2]["element"]
    assert [option["value"] for option in tlp["options"]] == [
        "clear",
        "green",
        "amber",
        "amber+strict",
        "red",
    ]
    assert tlp["initial_option"]["value"] == "amber"


def test_text_the_bot_repeats_can_never_mention_the_channel_or_link() -> None:
    message = Outbound(text="Declared <!channel> & <https://evil.example|bank>")
    section = message_blocks(message)[0]["text"]["text"]
    expected = "Declared &lt;!channel&gt; &amp; &lt;https://evil.example|bank&gt;"
    assert section == expected
    assert fallback_text(message) == expected
