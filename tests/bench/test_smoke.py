"""
Every benchmark, run once with tiny sizes so that the suite cannot rot: over
Unix sockets on the host, over AF_VSOCK loopback in the guest, with each end
in a process of its own (through the orchestrator, in a fresh process: its
ends fork, which this process, with its running reactor, must not) and with
both in one. Nothing here asserts a speed, only that every measurement ran
and counted what it should; the numbers mean something only from
``tox -e bench``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer

from . import report
from .baselines import BASELINES
from .measure import TWISTED
from .places import place_named
from .run_benchmarks import ONE_PROCESS_PLANS, REPOSITORY, plan_for
from .sizes import TINY
from .twisted_contenders import WORKLOADS

FAMILIES = [
    pytest.param("unix", id="unix"),
    pytest.param("vsock", id="vsock", marks=pytest.mark.kernel),
]


def _cases(kind: str) -> list[Any]:
    cases = []
    for family in FAMILIES:
        name = family.values[0]
        for workload, contenders in ONE_PROCESS_PLANS["vsock"].items():
            for contender in contenders:
                if (contender in TWISTED) == (kind == "twisted"):
                    cases.append(
                        pytest.param(
                            name,
                            workload,
                            contender,
                            id=f"{name}-{workload}-{contender}",
                            marks=family.marks,
                        )
                    )
    return cases


def _check(result: dict[str, float], workload: str) -> None:
    assert result[report.METRICS[workload]] > 0
    if workload == "concurrent-echo":
        assert result["connections"] in (
            TINY.concurrent_native,
            TINY.concurrent_threads,
        )
        assert "KiB/connection" in result


@pytest.mark.parametrize(("family", "workload", "contender"), _cases("baseline"))
def test_baseline_workload_runs_and_reports_its_metric(
    family: str, workload: str, contender: str
) -> None:
    if contender == "socat" and shutil.which("socat") is None:
        pytest.skip("socat is not installed")
    _check(BASELINES[contender][workload](place_named(family), TINY), workload)


@pytest.mark.parametrize(("family", "workload", "contender"), _cases("twisted"))
@pytest_twisted.ensureDeferred
async def test_twisted_workload_runs_and_reports_its_metric(
    family: str, workload: str, contender: str
) -> None:
    from twisted.internet import reactor

    run = WORKLOADS[workload](reactor, place_named(family), TWISTED[contender], TINY)
    _check(await defer.Deferred.fromCoroutine(run), workload)


TIERS = [
    pytest.param("host", "unix", id="host-unix"),
    pytest.param("guest", "vsock", id="guest-vsock", marks=pytest.mark.kernel),
]


@pytest.mark.parametrize(("tier", "family"), TIERS)
def test_every_workload_runs_with_each_end_in_its_own_process(
    tmp_path: Path, tier: str, family: str
) -> None:
    """
    Every contender's every workload, in both modes; each two-process
    measurement has checked the counts both ends report, or failed.
    """
    raw = tmp_path / f"{tier}.json"
    command = [sys.executable, "-m", "tests.bench.run_benchmarks", "--tier", tier]
    command += ["--sizes", "tiny", "--reps", "1", "--no-warm-up", "--one-process"]
    command += ["--raw", str(raw)]
    subprocess.run(command, cwd=REPOSITORY, check=True, capture_output=True)
    measured = json.loads(raw.read_text())
    runs = measured["runs"]
    planned = [
        ("two-process", w, c)
        for w, contenders in plan_for(family, measured["skipped"]).items()
        for c in contenders
    ]
    planned += [
        ("one-process", w, c)
        for w, contenders in ONE_PROCESS_PLANS[family].items()
        for c in contenders
    ]
    assert sorted((r["mode"], r["workload"], r["contender"]) for r in runs) == sorted(
        planned
    )
    failed = [r for r in runs if "error" in r["result"]]
    assert failed == []
    for run in runs:
        _check(run["result"], run["workload"])
        if run["mode"] == "two-process" and run["workload"] == "concurrent-echo":
            assert "threads/connection" in run["result"]


def _tier(runs: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "tier": "host",
        "runs": [
            {
                "mode": "two-process",
                "family": "unix",
                "workload": "bulk",
                "contender": contender,
                "rep": rep,
                "loadavg_1min": 0.0,
                # A speed of 0 stands for a run that failed.
                "result": {"MB/s": speed} if speed else {"error": "broke"},
            }
            for rep, (contender, speed) in enumerate(runs)
        ],
    }


def test_report_takes_medians_and_ratios_to_the_baselines(tmp_path: Path) -> None:
    tier = _tier(
        [
            ("raw", 100.0),
            ("raw", 300.0),
            ("raw", 200.0),
            ("asyncio", 50.0),
            ("native", 190.0),
            ("native", 0.0),
        ]
    )
    report.write(tmp_path, "2026-01-01T00:00:00Z", [tier])
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    native = next(row for row in results if row["contender"] == "native")
    assert native["median"] == {"MB/s": 190.0}
    assert native["vs_raw"] == pytest.approx(0.95)
    assert native["vs_asyncio"] == pytest.approx(3.8)
    assert native["failed"] == 1
    markdown = (tmp_path / "results.md").read_text()
    assert "| bulk | twisted-hvsock, io=reactor | 190 MB/s | 0.95x | 3.80x |" in (
        markdown
    )
    assert "1 of 2 runs failed" in markdown
    assert (tmp_path / "results-unix.csv").read_text().startswith("Workload,")
    # No vsock runs, no vsock table; no one-process runs, no one-process table.
    assert not (tmp_path / "results-vsock.csv").exists()
    assert not (tmp_path / "results-one-process-unix.csv").exists()
