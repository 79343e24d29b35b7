"""One way of writing sizes everywhere (refiner_gui.sizes), and the places that use it."""

from __future__ import annotations

import pytest

from refiner_gui.images import check_image
from refiner_gui.sizes import MIB, format_bytes, format_pixels
from refiner_gui.ui.slot_state import facts
from tests.helpers.images import make_image


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (500, "500 bytes"),  # never "0 KB", which reads like an empty file
        (1024, "1 KB"),
        (1025, "2 KB"),  # rounded up, never down
        (45 * 1024 + 1, "46 KB"),
        (MIB - 1, "1 MB"),
        (5 * MIB, "5 MB"),  # an exact limit reads like the limit
        (5 * MIB + 1, "5.1 MB"),  # just over it never reads "5 MB"
        (20 * MIB, "20 MB"),
    ],
)
def test_bytes_are_rounded_up_the_same_way_everywhere(n, text):
    assert format_bytes(n) == text


def test_pixels():
    assert format_pixels(1024, 1536) == "1024×1536"


def test_slot_facts_and_check_summary_agree(tmp_path):
    path = make_image(tmp_path / "p.png", (320, 480))
    report = check_image(path, "person_image")
    size = format_bytes(path.stat().st_size)
    assert facts(report) == [f"PNG {format_pixels(320, 480)}", size]
    assert report.summary().endswith(f"320×480 · {size}")
