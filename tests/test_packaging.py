"""An installed rrt-bot (the Docker image) carries every data file its packages read."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_SUFFIXES = {".yaml", ".j2"}


def test_package_data_covers_every_data_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]
    covered = {
        path
        for package, globs in patterns.items()
        for glob in globs
        for path in (ROOT / package.replace(".", "/")).glob(glob)
    }
    data_files = {
        path
        for top in ("bot", "handlers", "storage", "config")
        for path in (ROOT / top).rglob("*")
        if path.suffix in DATA_SUFFIXES
    }
    assert data_files, "no data files found"
    assert data_files - covered == set()
