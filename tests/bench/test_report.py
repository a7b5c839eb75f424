"""
How tests/bench/report.py lays out the performance page's data: a table per
socket family, and a chart whose text stays readable at the size the page
shows it.
"""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import pytest

from . import report

SAVED = Path(__file__).resolve().parents[2] / "docs" / "performance" / "results.json"
#: The width of the docs theme's text column (furo: 46em of 16 px), which
#: pictures wider than it are scaled down to.
PAGE_COLUMN_PX = 736


def saved_rows() -> list[dict]:
    return report.summarize(json.loads(SAVED.read_text())["tiers"])


def test_each_socket_family_has_a_table_of_its_own(tmp_path: Path) -> None:
    document = json.loads(SAVED.read_text())
    report.write(tmp_path, document["started"], document["tiers"])
    for family in ("vsock", "unix"):
        with (tmp_path / f"results-{family}.csv").open() as table:
            header, *rows = list(csv.reader(table))
        assert header[:2] == ["Workload", "Contender"]
        # Every workload and contender measured over that family, in order.
        assert len(rows) == sum(
            1
            for row in document["results"]
            if (row["mode"], row["family"]) == ("two-process", family)
        )
        assert rows[0][:2] == ["bulk", "raw blocking sockets"]
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.index("### AF_VSOCK") < markdown.index("### AF_UNIX")
    assert not (tmp_path / "results.csv").exists()


def test_the_chart_s_smallest_text_is_16_px_high_on_the_page(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    rows = saved_rows()
    picture = tmp_path / "results.png"
    assert report.chart(rows, picture)
    (width,) = struct.unpack(">I", picture.read_bytes()[16:20])
    scale = min(1.0, PAGE_COLUMN_PX / width)
    with plt.rc_context({"font.size": report.CHART_FONT_SIZE}):
        figure = report.chart_figure(rows)
    sizes = [text.get_fontsize() for text in figure.findobj(Text) if text.get_text()]
    plt.close(figure)
    smallest_px = min(sizes) * report.CHART_DPI / 72 * scale
    assert smallest_px >= 16
