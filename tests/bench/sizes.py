"""
How big each workload is: the sizes the published numbers use, and tiny ones
that let the smoke test run every benchmark in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Sizes:
    """
    :ivar bulk_bytes: bytes sent one way in the bulk workload.
    :ivar bulk_write: bytes per write in the bulk workload.
    :ivar message: bytes per ping-pong message.
    :ivar round_trips: ping-pong round trips.
    :ivar connections: sequential connect/close cycles.
    :ivar concurrent_native: connections open at once, for the contenders
        that need no thread per connection (reactor-native, asyncio).
    :ivar concurrent_threads: connections open at once, for the contenders
        with threads per connection (thread-backed, raw blocking).
    :ivar echo_bytes: bytes each concurrent connection sends and gets back.
    """

    bulk_bytes: int
    bulk_write: int
    message: int
    round_trips: int
    connections: int
    concurrent_native: int
    concurrent_threads: int
    echo_bytes: int


# Sized for a busy machine: with four emulated guests on two cores, one
# repetition of the guest tier took a quarter of an hour with 64 MiB, 2,000
# round trips, 200 connections and 64 KiB echoes.
FULL = Sizes(
    bulk_bytes=32 * MIB,
    bulk_write=256 * KIB,
    message=100,
    round_trips=500,
    connections=100,
    concurrent_native=1000,
    concurrent_threads=500,
    echo_bytes=16 * KIB,
)

TINY = Sizes(
    bulk_bytes=1 * MIB,
    bulk_write=256 * KIB,
    message=100,
    round_trips=20,
    connections=5,
    concurrent_native=8,
    concurrent_threads=4,
    echo_bytes=64 * KIB,
)

# For the host tier, over AF_UNIX, where the same workloads run fifteen to
# fifty times faster than in the guest: at the guest's sizes a host
# measurement lasts a few milliseconds, and what it times is mostly each
# forked end's first touches of its memory (copy-on-write) and first calls.
# Asyncio streams, for one, made 5,600 round trips a second in runs of 500
# and 25,800 in runs of 5,000.
HOST = replace(FULL, bulk_bytes=512 * MIB, round_trips=5_000, connections=1_000)

PRESETS = {"full": FULL, "host": HOST, "tiny": TINY}


def preset_for(tier: str, asked: str | None) -> str:
    """The sizes a tier runs with: those ``asked`` for, else its own default."""
    if asked is not None:
        return asked
    return "host" if tier == "host" else "full"
