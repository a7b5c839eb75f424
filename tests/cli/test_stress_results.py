"""
``hvsock stress``'s results: percentiles, the summary of a run and each
connection's line.
"""

from __future__ import annotations

from typing import Any

from twisted_hvsock.cli.stress_results import ConnectionResult, percentile, summarize


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None


def test_percentile_is_nearest_rank() -> None:
    values = list(range(100, 0, -1))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([1.0, 2.0], 51) == 2.0


# The summary.


def result(
    index: int, size: int = 1000, ms: float = 10.0, outcome: str = "ok", why: Any = None
) -> ConnectionResult:
    return ConnectionResult(index, size, size, ms / 1000, outcome, why)


def test_summary_adds_up_the_connections() -> None:
    results = [
        result(3, ms=30, outcome="error", why="refused again"),
        result(1, ms=10),
        result(2, ms=20, outcome="MISMATCH"),
        result(4, size=0, ms=1000, outcome="error", why="refused"),
    ]
    summary = summarize(results, parallel=2, seconds=0.5, seed=42)
    assert summary.as_dict() == {
        "connections": 4,
        "parallel": 2,
        "ok": 1,
        "mismatches": 1,
        "errors": 2,
        "bytes_sent": 3000,
        "bytes_received": 3000,
        "bytes_total": 6000,
        "seconds": 0.5,
        "mb_per_s": 0.012,
        # Errors do not count towards connection times.
        "p50_ms": 10.0,
        "p99_ms": 20.0,
        "first_error": "refused again",
        "seed": 42,
    }
    assert summary.failed


def test_mb_per_s_counts_both_directions_in_units_of_a_million_bytes() -> None:
    summary = summarize([result(1, size=1_000_000)], parallel=1, seconds=2, seed=0)
    assert summary.mb_per_s == 1.0
    assert "1.00 MB/s (bytes sent + received; 1 MB = 10^6 bytes)" in summary.format()


def test_summary_without_compared_connections_has_no_times() -> None:
    summary = summarize([result(1, outcome="error", why="x")], 1, 0.0, 0)
    assert (summary.p50_ms, summary.p99_ms, summary.mb_per_s) == (None, None, 0.0)
    assert "p50 n/a, p99 n/a" in summary.format()
    assert summary.format().endswith("first error: x")


def test_clean_summary_reads_as_lines_and_has_not_failed() -> None:
    summary = summarize([result(1), result(2, ms=20)], 5, 0.25, 7)
    assert not summary.failed
    assert summary.format().splitlines() == [
        "connections: 2 (5 at a time), 2 ok, 0 mismatches, 0 errors",
        "bytes:       2000 sent, 2000 received, 4000 in total",
        "elapsed:     0.250 s",
        "throughput:  0.02 MB/s (bytes sent + received; 1 MB = 10^6 bytes)",
        "connection:  p50 10.0 ms, p99 20.0 ms",
        "seed:        7",
    ]


def test_connection_lines_say_index_bytes_time_and_outcome() -> None:
    assert result(3, ms=12.34).describe() == (
        "connection 3: 1000 bytes sent, 1000 received, 12.3 ms, ok"
    )
    assert result(4, size=0, outcome="error", why="refused").describe() == (
        "connection 4: 0 bytes sent, 0 received, 10.0 ms, error: refused"
    )
