"""Adapter state answers from memory and is written in the background, in order."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from bot.adapter_state import WriteBehind
from storage.sql_store import open_store


def test_writes_reach_the_database_in_order(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'rrt.db'}")
    state = WriteBehind(store.kv)
    try:
        for n in range(50):
            state.set("matrix:since", f"s{n}")
        state.flush()
        assert store.kv.get("matrix:since") == "s49"
        assert state.get("matrix:since") == "s49"
    finally:
        state.close()
        store.close()


def test_a_write_lock_held_elsewhere_does_not_block_the_adapter(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'rrt.db'}")
    state = WriteBehind(store.kv)
    holder = sqlite3.connect(tmp_path / "rrt.db", isolation_level=None, check_same_thread=False)
    try:
        assert state.get("slack:dm:UBOB") is None  # a read takes no write lock
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        state.set("slack:dm:UBOB", "D0BOB")
        assert state.get("slack:dm:UBOB") == "D0BOB"
        assert time.monotonic() - started < 0.5
        holder.execute("ROLLBACK")
        state.flush()
        assert store.kv.get("slack:dm:UBOB") == "D0BOB"
    finally:
        holder.close()
        state.close()
        store.close()


def test_forgotten_keys_are_read_again_from_the_database(tmp_path: Path) -> None:
    """What another replica wrote while this one stood by is seen once it takes over."""
    store = open_store(f"sqlite:///{tmp_path / 'rrt.db'}")
    state = WriteBehind(store.kv)
    try:
        state.set("matrix:next_batch", "mine")
        state.set("slack:dm:U1", "D1")
        assert state.get("matrix:device_id") is None
        state.flush()  # this replica's writes landed before it stood by
        store.kv.set("matrix:next_batch", "theirs")  # as the replica that held the role
        store.kv.set("matrix:device_id", "DEVICE")
        store.kv.set("slack:dm:U1", "D2")
        state.forget("matrix:")
        assert state.get("matrix:next_batch") == "theirs"
        assert state.get("matrix:device_id") == "DEVICE"
        assert state.get("slack:dm:U1") == "D1"  # other keys are still answered from memory
    finally:
        state.close()
        store.close()
