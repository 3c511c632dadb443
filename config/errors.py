"""Configuration errors name the file, the field and what is wrong."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.yaml_lines import duplicate_keys, line_of, parse

M = TypeVar("M", bound=BaseModel)
_NAMED_FIELD = re.compile(r"^([\w-]+(?:\.[\w-]+)*): ")  # `levels.L2.team: …`


class ConfigError(Exception):
    pass


def describe_validation(source: str, error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{source}: {field}: {problem['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(error)}") from None


def yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong and where, without quoting the file: the line may hold a secret."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return type(error).__name__
    where = error.problem_mark or error.context_mark
    at = f"line {where.line + 1}, column {where.column + 1}: " if where is not None else ""
    return at + (error.problem or error.context or "syntax error")


def load_model(path: Path, model: type[M]) -> M:
    """The model from a YAML file; ConfigError lists each problem as FILE:LINE: field: problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    try:
        node, data = parse(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {yaml_problem(error)}") from None
    problems = [(line, f"duplicate key {key!r}") for line, key in duplicate_keys(node)]
    try:
        result = model.model_validate(data if data is not None else {})
    except ValidationError as error:
        for problem in error.errors():
            loc: list[str | int] = list(problem["loc"])
            message = problem["msg"].removeprefix("Value error, ")
            named = _NAMED_FIELD.match(message) if not loc and isinstance(data, dict) else None
            if named and named.group(1).split(".")[0] in data:
                # A check across fields names the one at fault first.
                loc = [int(p) if p.isdigit() else p for p in named.group(1).split(".")]
                message = message[named.end() :]
            field = ".".join(str(part) for part in loc) or "(top level)"
            problems.append((line_of(node, loc), f"{field}: {message}"))
    if problems:
        lines = sorted(problems, key=lambda problem: problem[0])
        raise ConfigError("\n".join(f"{path}:{line}: {message}" for line, message in lines))
    return result
