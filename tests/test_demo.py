"""The console demo, played as `rrt demo` prints it."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.cli import rrt


def test_the_demo_team_keeps_its_only_police_liaison_for_that_role(tmp_path: Path) -> None:
    played = rrt("demo", "--db", "demo.db", cwd=tmp_path)
    assert played.returncode == 0, played.stderr
    transcript = played.stdout
    # Koen Verhoeven also backs up forensics; another forensic analyst is asked instead.
    assert "✅ forensics filled: Jan De Smet." in transcript
    assert "✅ police_liaison filled: Koen Verhoeven." in transcript
    assert "Paging for police_liaison stopped" not in transcript
    assert "unfilled" not in transcript
    # Time passes timer by timer: nothing fires late, as if the bot had been offline.
    assert "(late:" not in transcript
