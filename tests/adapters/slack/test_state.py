from __future__ import annotations

from bot.adapters.slack.state import SlackState
from tests.fixtures.memory import MemoryKeyValue


def test_button_values_survive_a_new_state_over_the_same_store() -> None:
    store = MemoryKeyValue()
    SlackState(store).remember_buttons("C1", "1.5", ["answer q3 1", "answer q3 2"])
    again = SlackState(store)
    assert again.buttons("C1", "1.5") == ["answer q3 1", "answer q3 2"]
    assert again.buttons("C1", "9.9") == []
    assert again.buttons("C2", "1.5") == []


def test_direct_channel_cache() -> None:
    state = SlackState(MemoryKeyValue())
    assert state.direct_channel("U1") is None
    state.remember_direct_channel("U1", "D1")
    assert state.direct_channel("U1") == "D1"
