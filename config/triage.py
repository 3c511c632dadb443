"""Loads the triage questionnaire (config/triage.yaml by default)."""

from __future__ import annotations

from pathlib import Path

from bot.core.triage import Questionnaire
from config.errors import load_model

DEFAULT_TRIAGE = Path(__file__).with_name("triage.yaml")


def load_questionnaire(path: Path | None = None) -> Questionnaire:
    return load_model(path or DEFAULT_TRIAGE, Questionnaire)
