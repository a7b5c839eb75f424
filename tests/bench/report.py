"""
Turn raw measurements into the performance page's data: medians and ratios
(``results.json``), Markdown tables (``results.md``), the tables the docs
include, one per socket family (``results-vsock.csv`` and
``results-unix.csv`` for the measurements with each end in a process of its
own, ``results-one-process-<family>.csv`` for those with both ends in one,
when they were run) and a chart of the former (``results.png``, when
matplotlib, from the ``bench`` extra, is installed), which the page shows
first.

``python -m tests.bench.report docs/performance/results.json`` redraws all of
it from the saved measurements, without running a benchmark.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Any

#: workload -> the measurement it is ranked by.
METRICS = {
    "bulk": "MB/s",
    "ping-pong": "round trips/s",
    "seqpacket-ping-pong": "round trips/s",
    "connect-close": "connections/s",
    "concurrent-echo": "echoes/s",
}
FAMILY_TITLES = {
    "vsock": "AF_VSOCK loopback (CID 1), in the emulated guest",
    "unix": "AF_UNIX, on the host",
}
CONTENDER_NAMES = {
    "raw": "raw blocking sockets",
    "asyncio": "asyncio streams",
    "socat": "socat",
    "c": "C peer (compiled)",
    "native": "twisted-hvsock, io=reactor",
    "threads": "twisted-hvsock, io=threads",
}
MODES = {
    "two-process": "each end in a process of its own",
    "one-process": "both ends in one process",
}
#: Runs recorded before the two-process harness had no mode: one process.
DEFAULT_MODE = "one-process"


def summarize(tiers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    One row per family, workload and contender: the median of each
    measurement over the repetitions, and the ranking metric's ratio to raw
    blocking sockets and to asyncio measured in the same run.
    """
    cells: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for tier in tiers:
        for run in tier["runs"]:
            mode = run.get("mode", DEFAULT_MODE)
            key = (mode, run["family"], run["workload"], run["contender"])
            cells.setdefault(key, []).append(run["result"])
    rows = []
    for (mode, family, workload, contender), results in cells.items():
        good = [result for result in results if "error" not in result]
        row: dict[str, Any] = {
            "mode": mode,
            "family": family,
            "workload": workload,
            "contender": contender,
            "runs": len(results),
            "failed": len(results) - len(good),
            "median": {
                name: statistics.median(result[name] for result in good)
                for name in (good[0] if good else {})
            },
        }
        if len(good) < len(results):
            row["errors"] = [r["error"] for r in results if "error" in r]
        rows.append(row)
    for row in rows:
        metric = METRICS[row["workload"]]
        for baseline in ("raw", "asyncio"):
            other = _find(rows, row["mode"], row["family"], row["workload"], baseline)
            mine = row["median"].get(metric)
            theirs = other["median"].get(metric) if other else None
            row[f"vs_{baseline}"] = mine / theirs if mine and theirs else None
    return rows


def _find(
    rows: list[dict[str, Any]], mode: str, family: str, workload: str, contender: str
) -> dict[str, Any] | None:
    for row in rows:
        if (row["mode"], row["family"], row["workload"], row["contender"]) == (
            mode,
            family,
            workload,
            contender,
        ):
            return row
    return None


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    modes = list(MODES)
    families = list(FAMILY_TITLES)
    workloads = list(METRICS)
    contenders = list(CONTENDER_NAMES)
    return sorted(
        rows,
        key=lambda row: (
            modes.index(row["mode"]),
            families.index(row["family"]),
            workloads.index(row["workload"]),
            contenders.index(row["contender"]),
        ),
    )


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def table(
    rows: list[dict[str, Any]], mode: str = "two-process", family: str = "vsock"
) -> list[list[str]]:
    """
    The results over ``family``'s sockets measured in ``mode``, as rows of
    cells, the first the header.
    """
    lines = [["Workload", "Contender", "Median", "vs raw", "vs asyncio", "Notes"]]
    for row in _ordered(rows):
        if (row["mode"], row["family"]) != (mode, family):
            continue
        metric = METRICS[row["workload"]]
        median = row["median"]
        value = median.get(metric)
        notes = []
        if row["workload"] == "concurrent-echo" and median:
            notes.append(_concurrent_note(mode, median))
        if row["failed"]:
            notes.append(f"{row['failed']} of {row['runs']} runs failed")
        lines.append(
            [
                row["workload"],
                CONTENDER_NAMES[row["contender"]],
                f"{_number(value, 1 if value and value < 100 else 0)} {metric}",
                _ratio(row["vs_raw"]),
                _ratio(row["vs_asyncio"]),
                "; ".join(notes),
            ]
        )
    return lines


def _concurrent_note(mode: str, median: dict[str, float]) -> str:
    note = f"{median['connections']:.0f} connections in {median['seconds']:.1f} s"
    if mode == "one-process":
        # Both ends' memory, in the one process.
        return f"{note}, {median['KiB/connection']:.0f} KiB/connection idle"
    note += f"; server: {median['KiB/connection']:.1f} KiB"
    threads = median.get("threads/connection")
    if threads:
        note += f" and {threads:.0f} thread{'' if threads == 1 else 's'}"
    return note + " per idle connection"


def markdown(cells: list[list[str]]) -> str:
    header, *body = cells
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def write_csv(cells: list[list[str]], path: Path) -> None:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(cells)


#: The chart's text size in points. The page shows the picture at most as
#: wide as its text column, about 740 px; at CHART_DPI and CHART_WIDTH
#: inches that is no scaling down, so 13 points are 18 px on the page.
CHART_FONT_SIZE = 13
CHART_DPI = 100
CHART_WIDTH = 7.4


def chart(rows: list[dict[str, Any]], path: Path) -> bool:
    """
    Draw each contender's ratio to raw blocking sockets, per workload: one
    panel per socket family, one above the other.

    :return: whether it was drawn (matplotlib may not be installed).
    """
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": CHART_FONT_SIZE}):
        figure = chart_figure(rows)
        figure.savefig(path, dpi=CHART_DPI, bbox_inches="tight")
    plt.close(figure)
    return True


#: Where the ratio axis is marked (a log scale): 1 is raw blocking sockets.
RATIO_TICKS = (0.03, 0.1, 0.3, 1, 3, 10, 30, 100)


def _tick_label(workload: str) -> str:
    """A workload's name under its bars: long ones broken at their hyphens."""
    if len(workload) <= 14:
        return workload
    first, _, rest = workload.partition("-")
    return f"{first}-\n{rest}"


def chart_figure(rows: list[dict[str, Any]]) -> Any:
    """The chart as a matplotlib figure (matplotlib must be importable)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    mode = "two-process"
    families = [
        family
        for family in FAMILY_TITLES
        if any(_find(rows, mode, family, workload, "raw") for workload in METRICS)
    ]
    contenders = [name for name in CONTENDER_NAMES if name != "raw"]
    figure, panels = plt.subplots(
        len(families),
        1,
        figsize=(CHART_WIDTH, 3.6 * len(families) + 1.4),
        sharey=True,
        squeeze=False,
    )
    width = 0.8 / len(contenders)
    for family, (axes,) in zip(families, panels, strict=True):
        workloads = [w for w in METRICS if _find(rows, mode, family, w, "raw")]
        for index, contender in enumerate(contenders):
            ratios = []
            for workload in workloads:
                row = _find(rows, mode, family, workload, contender)
                ratios.append(row["vs_raw"] if row and row["vs_raw"] else float("nan"))
            positions = [group + index * width for group in range(len(workloads))]
            axes.bar(positions, ratios, width, label=CONTENDER_NAMES[contender])
        axes.axhline(1.0, color="black", linewidth=0.8)
        axes.set_xticks([group + 0.4 - width / 2 for group in range(len(workloads))])
        # One word per line where a name is long: five workloads side by
        # side overlap otherwise.
        axes.set_xticklabels([_tick_label(workload) for workload in workloads])
        axes.set_yscale("log")
        axes.yaxis.set_major_locator(FixedLocator(RATIO_TICKS))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
        axes.yaxis.set_minor_locator(NullLocator())
        axes.set_ylabel("ratio to raw sockets")
        axes.set_title(FAMILY_TITLES[family])
    figure.suptitle(
        "Each end in a process of its own; medians, same run;\n"
        "higher is better, 1x is raw blocking sockets"
    )
    # The legend once, under the panels, as large as the other text.
    handles, labels = panels[0][0].get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="lower center", ncol=2, frameon=False,
        bbox_to_anchor=(0.5, 0),
    )  # fmt: skip
    figure.tight_layout(rect=(0, 0.12, 1, 1))
    return figure


def table_name(mode: str, family: str) -> str:
    """The file name of the table of ``family``'s results measured in ``mode``."""
    prefix = "results" if mode == "two-process" else f"results-{mode}"
    return f"{prefix}-{family}.csv"


def write(out: Path, started: str, tiers: list[dict[str, Any]]) -> None:
    """Write ``results.{json,md,csv,png}`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = summarize(tiers)
    document = {"started": started, "results": _ordered(rows), "tiers": tiers}
    (out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    sections = []
    for mode, title in MODES.items():
        sections.append(f"## {title}\n")
        for family, family_title in FAMILY_TITLES.items():
            cells = table(rows, mode, family)
            name = table_name(mode, family)
            if len(cells) > 1:
                sections.append(f"### {family_title}\n\n{markdown(cells)}")
                write_csv(cells, out / name)
            else:
                (out / name).unlink(missing_ok=True)
        if sections[-1] == f"## {title}\n":
            sections.pop()
    (out / "results.md").write_text("\n".join(sections))
    if not chart(rows, out / "results.png"):
        print(
            "matplotlib is not installed (the bench extra): results.png not redrawn",
            file=sys.stderr,
        )


def main(argv: list[str]) -> None:
    """``python -m tests.bench.report RESULTS.json``: redraw from saved results."""
    source = Path(argv[0])
    document = json.loads(source.read_text())
    write(source.parent, document["started"], document["tiers"])


if __name__ == "__main__":
    main(sys.argv[1:])
