"""
What ``hvsock stress`` reports: each connection's result, the percentiles
and the summary of a run. Pure values: tested without sockets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ERROR",
    "MEGABYTE",
    "MISMATCH",
    "OK",
    "ConnectionResult",
    "Summary",
    "percentile",
    "summarize",
]

#: What one "MB" of the summary's MB/s is.
MEGABYTE = 10**6

OK = "ok"
MISMATCH = "MISMATCH"
ERROR = "error"


def percentile(values: Sequence[float], percent: float) -> float | None:
    """
    The nearest-rank percentile: the smallest value that at least
    ``percent`` per cent of ``values`` do not exceed; ``None`` when there
    are no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class ConnectionResult:
    """
    How one connection went.

    :param index: which connection, from 1.
    :param seconds: from the start of connecting until the connection closed.
    :param outcome: ``"ok"``, ``"MISMATCH"`` or ``"error"``.
    :param error: for an error, what went wrong, in one line.
    """

    index: int
    bytes_sent: int
    bytes_received: int
    seconds: float
    outcome: str
    error: str | None = None

    def describe(self) -> str:
        """The ``-v`` line for this connection."""
        line = (
            f"connection {self.index}: {self.bytes_sent} bytes sent, "
            f"{self.bytes_received} received, {self.seconds * 1000:.1f} ms, "
            f"{self.outcome}"
        )
        return f"{line}: {self.error}" if self.error else line


@dataclass(frozen=True)
class Summary:
    """
    The outcome of a whole run. Connection times count only the connections
    that got as far as comparing data (ok or mismatch), not errors.
    """

    connections: int
    parallel: int
    bytes_sent: int
    bytes_received: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None
    mismatches: int
    errors: int
    first_error: str | None
    seed: int

    @property
    def ok(self) -> int:
        return self.connections - self.mismatches - self.errors

    @property
    def bytes_total(self) -> int:
        return self.bytes_sent + self.bytes_received

    @property
    def mb_per_s(self) -> float:
        """Bytes sent plus bytes received, in 10**6 bytes, per second."""
        if self.seconds <= 0:
            return 0.0
        return self.bytes_total / MEGABYTE / self.seconds

    @property
    def failed(self) -> bool:
        return bool(self.mismatches or self.errors)

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object."""
        return {
            "connections": self.connections,
            "parallel": self.parallel,
            "ok": self.ok,
            "mismatches": self.mismatches,
            "errors": self.errors,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "bytes_total": self.bytes_total,
            "seconds": round(self.seconds, 6),
            "mb_per_s": round(self.mb_per_s, 3),
            "p50_ms": _round(self.p50_ms),
            "p99_ms": _round(self.p99_ms),
            "first_error": self.first_error,
            "seed": self.seed,
        }

    def format(self) -> str:
        """The summary as the lines a person reads."""

        def ms(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.1f} ms"

        lines = [
            f"connections: {self.connections} ({self.parallel} at a time), "
            f"{self.ok} ok, {self.mismatches} mismatches, {self.errors} errors",
            f"bytes:       {self.bytes_sent} sent, {self.bytes_received} received, "
            f"{self.bytes_total} in total",
            f"elapsed:     {self.seconds:.3f} s",
            f"throughput:  {self.mb_per_s:.2f} MB/s "
            "(bytes sent + received; 1 MB = 10^6 bytes)",
            f"connection:  p50 {ms(self.p50_ms)}, p99 {ms(self.p99_ms)}",
            f"seed:        {self.seed}",
        ]
        if self.first_error is not None:
            lines.append(f"first error: {self.first_error}")
        return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def summarize(
    results: Sequence[ConnectionResult], parallel: int, seconds: float, seed: int
) -> Summary:
    """Add up the connections' results into a :class:`Summary`."""
    compared = [r.seconds * 1000 for r in results if r.outcome != ERROR]
    errors = [r for r in sorted(results, key=lambda r: r.index) if r.outcome == ERROR]
    return Summary(
        connections=len(results),
        parallel=parallel,
        bytes_sent=sum(r.bytes_sent for r in results),
        bytes_received=sum(r.bytes_received for r in results),
        seconds=seconds,
        p50_ms=percentile(compared, 50),
        p99_ms=percentile(compared, 99),
        mismatches=sum(1 for r in results if r.outcome == MISMATCH),
        errors=len(errors),
        first_error=errors[0].error if errors else None,
        seed=seed,
    )
