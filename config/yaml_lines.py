"""YAML with line numbers, so configuration problems can point at the line to fix.

The loader follows YAML 1.2 for plain scalars: `18:00` stays a string (YAML 1.1 reads it as
the number 1080) and only true/false are booleans (so `no` stays a word).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class LineLoader(yaml.SafeLoader):
    pass


_REPLACED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+)?\.[0-9]+(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)


def parse(text: str) -> tuple[Node | None, Any]:
    """The composed node tree (for line numbers) and the plain data; raises yaml.YAMLError."""
    loader = LineLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def load(text: str) -> Any:
    return parse(text)[1]


def line_of(node: Node | None, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest node on the path `loc` (a pydantic error location)."""
    if node is None:
        return 1
    current = node
    for part in loc:
        child: Node | None = None
        if isinstance(current, MappingNode):
            child = next((v for k, v in current.value if k.value == str(part)), None)
        elif isinstance(current, SequenceNode) and isinstance(part, int):
            child = current.value[part] if 0 <= part < len(current.value) else None
        if child is None:
            break
        current = child
    return int(current.start_mark.line) + 1


def duplicate_keys(node: Node | None) -> list[tuple[int, str]]:
    """(line, key) of every key repeated within one mapping: YAML would silently keep the last."""
    found: list[tuple[int, str]] = []
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in seen:
                    found.append((int(key.start_mark.line) + 1, str(key.value)))
                seen.add(key.value)
            found.extend(duplicate_keys(value))
    elif isinstance(node, SequenceNode):
        for item in node.value:
            found.extend(duplicate_keys(item))
    return found
