from __future__ import annotations

from bot.adapters.matrix.state import MatrixState
from bot.port import Button
from tests.fixtures.memory import MemoryKeyValue


def test_state_survives_a_new_instance_over_the_same_store() -> None:
    store = MemoryKeyValue()
    first = MatrixState(store)
    first.next_batch = "s72_1"
    first.device_id = "RRTDEVICE"
    first.remember_buttons("$page", (Button("Accept", "page accept", "primary"),))
    first.remember_direct_room("@alice:rrt.test", "!dm:rrt.test")
    first.remember_answer("$reply", '["@alice:rrt.test", ["$question"], null]')
    first.remember_pinned("!war:rrt.test", ["$headline"])

    again = MatrixState(store)

    assert (again.next_batch, again.device_id) == ("s72_1", "RRTDEVICE")
    assert again.buttons("$page") == (Button("Accept", "page accept", "primary"),)
    assert again.buttons("$other") == ()
    assert again.direct_room("@alice:rrt.test") == "!dm:rrt.test"
    assert again.is_direct_room("!dm:rrt.test")
    assert not again.is_direct_room("!war:rrt.test")
    assert again.answer("$reply") == '["@alice:rrt.test", ["$question"], null]'
    assert again.answer("$other") is None
    assert again.pinned("!war:rrt.test") == ["$headline"]
    assert again.pinned("!other:rrt.test") == []


def test_a_fresh_store_knows_nothing() -> None:
    state = MatrixState(MemoryKeyValue())

    assert (state.next_batch, state.device_id, state.direct_room("@a:rrt.test")) == (
        None,
        None,
        None,
    )
