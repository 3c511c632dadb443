"""Configuration errors name the file, the field and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    pass


def describe_validation(source: str, error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{source}: {field}: {problem['msg']}")
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
    data = read_yaml(path)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as error:
        raise ConfigError(describe_validation(str(path), error)) from None
