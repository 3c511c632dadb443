import pytest
import yaml

from config.yaml_lines import duplicate_keys, line_of, load, parse


def test_plain_scalars_follow_yaml_1_2() -> None:
    data = load("start: 18:00\nlanguage: no\nyes_word: on\ncount: 3\nratio: 0.5\nflag: false\n")
    assert data == {
        "start": "18:00",
        "language": "no",
        "yes_word": "on",
        "count": 3,
        "ratio": 0.5,
        "flag": False,
    }


def test_line_of_follows_an_error_location() -> None:
    node, _ = parse("people:\n  - id: a\n    roles:\n      - x\n      - y\n")
    assert line_of(node, ["people", 0, "roles", 1]) == 5
    assert line_of(node, ["people", 0, "missing"]) == 2  # falls back to the entry
    assert line_of(node, ["people", 7]) == 2
    assert line_of(None, ["anything"]) == 1


def test_duplicate_keys_are_found_at_every_depth() -> None:
    node, data = parse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert duplicate_keys(node) == [(4, "c"), (5, "a")]
    assert data == {"a": 3, "b": {"c": 2}}


def test_syntax_errors_are_raised() -> None:
    with pytest.raises(yaml.YAMLError):
        parse("a: [1, 2\n")
