"""TLP 2.0 labels: order, clearance and parsing what people type."""

from __future__ import annotations

import itertools

import pytest

from bot.core.tlp import DEFAULT_TLP, TLP

LEAST_TO_MOST_RESTRICTED = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]


def test_the_default_label_is_amber() -> None:
    assert DEFAULT_TLP is TLP.AMBER


def test_labels_are_ranked_from_clear_to_red() -> None:
    assert sorted(TLP, key=lambda label: label.rank) == LEAST_TO_MOST_RESTRICTED
    assert [label.rank for label in LEAST_TO_MOST_RESTRICTED] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("label", "other"), list(itertools.product(TLP, TLP)), ids=str)
def test_is_above_and_allows_agree_with_the_order(label: TLP, other: TLP) -> None:
    higher = LEAST_TO_MOST_RESTRICTED.index(label) > LEAST_TO_MOST_RESTRICTED.index(other)
    assert label.is_above(other) is higher
    # Content under `label` is for people cleared up to `other` only when it is not above it.
    assert label.allows(other) is not higher


def test_a_person_cleared_for_amber_sees_green_but_not_amber_strict() -> None:
    assert TLP.GREEN.allows(TLP.AMBER)
    assert TLP.AMBER.allows(TLP.AMBER)
    assert not TLP.AMBER_STRICT.allows(TLP.AMBER)
    assert not TLP.RED.allows(TLP.AMBER)
    assert TLP.RED.allows(TLP.RED)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("TLP:RED", TLP.RED),
        ("red", TLP.RED),
        ("  Red ", TLP.RED),
        ("tlp:clear", TLP.CLEAR),
        ("GREEN", TLP.GREEN),
        ("amber", TLP.AMBER),
        ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
        ("amber+strict", TLP.AMBER_STRICT),
        ("amber-strict", TLP.AMBER_STRICT),
        ("amber_strict", TLP.AMBER_STRICT),
    ],
)
def test_parse_accepts_the_usual_spellings(text: str, label: TLP) -> None:
    assert TLP.parse(text) is label


@pytest.mark.parametrize("text", ["", "purple", "TLP:WHITE", "amber strict", "TLP:", "strict"])
def test_parse_refuses_other_text_listing_the_labels(text: str) -> None:
    with pytest.raises(ValueError, match="unknown TLP label") as refused:
        TLP.parse(text)
    assert "TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT, TLP:RED" in str(refused.value)


@pytest.mark.parametrize("label", list(TLP))
def test_every_label_parses_from_its_own_value(label: TLP) -> None:
    assert TLP.parse(label.value) is label
