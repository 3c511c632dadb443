"""The evaluation charts are real PNG images that show the figures' colours."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.reporting.charts import LEVEL_COLOURS, MEDIAN_COLOUR, Chart, charts
from bot.reporting.evaluation import evaluate
from tests.reporting.evaluation_cases import AS_OF, ORGS, seeded_cases

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rgb(colour: str) -> tuple[int, int, int]:
    value = colour.removeprefix("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def colours_in(png: bytes) -> set[tuple[int, ...]]:
    with Image.open(io.BytesIO(png)) as image:
        counted = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    return {colour for _, colour in counted if isinstance(colour, tuple)}


@pytest.fixture(scope="module")
def drawn() -> dict[str, Chart]:
    return {chart.name: chart for chart in charts(evaluate(2026, seeded_cases(), ORGS, AS_OF))}


def test_three_valid_pngs_of_a_useful_size(drawn: dict[str, Chart]) -> None:
    assert list(drawn) == ["incidents", "response-times", "ack-latency"]
    for chart in drawn.values():
        assert chart.png.startswith(PNG_SIGNATURE)
        assert len(chart.png) > 10_000
        with Image.open(io.BytesIO(chart.png)) as image:
            image.verify()  # checks every chunk's CRC
        with Image.open(io.BytesIO(chart.png)) as image:
            assert (image.format, image.size) == ("PNG", (1000, 400))


def test_the_monthly_chart_stacks_every_level(drawn: dict[str, Chart]) -> None:
    present = colours_in(drawn["incidents"].png)
    assert {rgb(colour) for colour in LEVEL_COLOURS.values()} <= present


def test_the_timing_charts_draw_bars(drawn: dict[str, Chart]) -> None:
    for name in ("response-times", "ack-latency"):
        assert rgb(MEDIAN_COLOUR) in colours_in(drawn[name].png)


def test_a_year_without_incidents_still_draws() -> None:
    empty = {chart.name: chart for chart in charts(evaluate(2019, seeded_cases(), ORGS, AS_OF))}
    assert all(chart.png.startswith(PNG_SIGNATURE) for chart in empty.values())
    for name in ("response-times", "ack-latency"):  # "no data" panels: no bars
        assert rgb(MEDIAN_COLOUR) not in colours_in(empty[name].png)
