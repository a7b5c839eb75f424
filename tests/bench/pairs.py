"""
One measurement with each end of a contender in a process of its own: the
server starts, says where it listens (``ready ADDRESS`` on its standard
output), and only then does the client start; the client times the workload
(see :mod:`tests.bench.exchange`) and both report what they counted, which
is checked before the measurement counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import asyncio_peers, compiled, raw_peers, seqpacket_peers, twisted_peers
from .exchange import concurrent_count, expected_server_counts
from .memory import allow_many_descriptors
from .places import Place, place_named
from .processes import Child, PeerFailed, fork, spawn, write_line
from .sizes import Sizes

Measurement = dict[str, float]
#: A measurement that takes longer than this has hung.
MEASUREMENT_TIMEOUT = 600.0

PYTHON_PEERS: dict[str, Any] = {
    "raw": raw_peers,
    "asyncio": asyncio_peers,
    "native": twisted_peers,
    "threads": twisted_peers,
}
#: Every contender, in the order of the report.
CONTENDERS = ("raw", "asyncio", "socat", "c", "native", "threads")


def ready(address: str) -> None:
    """What a server in a forked process says once it listens."""
    write_line(f"ready {address}")


def workloads_of(contender: str) -> tuple[str, ...]:
    """The workloads ``contender`` has."""
    if contender == "socat":
        return ("bulk",)
    stream = ("bulk", "ping-pong", "connect-close", "concurrent-echo")
    # The compiled peer has its own seqpacket ends (peer.c), the practical
    # limit for messages as for streams.
    if contender == "c" or contender in seqpacket_peers.SERVERS:
        return (*stream, "seqpacket-ping-pong")
    return stream


def _starters(
    contender: str, workload: str, place: Place, sizes: Sizes, program: Path | None
) -> tuple[Callable[[], Child], Callable[[str], Child]]:
    """How to start the server, and the client given the server's address."""
    if workload not in workloads_of(contender):
        raise ValueError(f"{contender} has no {workload} workload")
    if contender == "c":
        if program is None:
            raise ValueError("the compiled peer needs its program")
        return (
            lambda: spawn(
                "server", compiled.peer_server_command(program, workload, place, sizes)
            ),
            lambda address: spawn(
                "client",
                compiled.peer_client_command(program, workload, place, address, sizes),
            ),
        )
    if contender == "socat":
        directory = place.scratch()
        return (
            lambda: fork(
                "server",
                lambda: compiled.socat_serve_bulk(place, sizes, directory, ready),
            ),
            lambda address: fork(
                "client", lambda: compiled.socat_bulk(place, address, sizes, directory)
            ),
        )
    if workload == "seqpacket-ping-pong":
        serve = seqpacket_peers.SERVERS[contender]
        client = seqpacket_peers.CLIENTS[contender]
    else:
        serve = PYTHON_PEERS[contender].SERVERS[workload]
        client = PYTHON_PEERS[contender].CLIENTS[workload]

    def start_server() -> Child:
        return fork("server", lambda: serve(place, sizes, contender, ready))

    def start_client(address: str) -> Child:
        return fork("client", lambda: client(place, address, sizes, contender))

    return start_server, start_client


def measure_pair(
    contender: str,
    workload: str,
    family: str,
    sizes: Sizes,
    program: Path | None = None,
    timeout: float = MEASUREMENT_TIMEOUT,
) -> Measurement:
    """
    Run ``workload`` once with ``contender``'s two ends in two processes.

    :param program: the compiled peer, for ``contender="c"``.
    :raises PeerFailed: if either end failed or counted wrong.
    :raises ValueError: for a contender that has no such workload.
    """
    allow_many_descriptors()  # inherited by both ends
    place = place_named(family)
    place.scratch()  # made here, so that the forked ends share it and it goes
    start_server, start_client = _starters(contender, workload, place, sizes, program)
    deadline = time.monotonic() + timeout
    children: list[Child] = []
    try:
        server = start_server()
        children.append(server)
        line = server.read_line(deadline)
        if not line.startswith("ready "):
            raise PeerFailed(f"the server said {line!r} instead of ready ADDRESS")
        client = start_client(line.removeprefix("ready "))
        children.append(client)
        client_report = client.read_report(deadline)
        server_report = server.read_report(deadline)
    finally:
        for child in children:
            child.kill()
        place.clean_up()
    return _measurement(contender, workload, sizes, client_report, server_report)


def _measurement(
    contender: str,
    workload: str,
    sizes: Sizes,
    client: dict[str, Any],
    server: dict[str, Any],
) -> Measurement:
    for name, expected in expected_server_counts(workload, contender, sizes).items():
        if server.get(name) != expected:
            raise PeerFailed(
                f"the server counted {server.get(name)} {name}, expected {expected}"
            )
    if contender == "socat" and client["acknowledged"] != sizes.bulk_bytes:
        raise PeerFailed(
            f"socat acknowledged {client['acknowledged']} bytes, "
            f"expected {sizes.bulk_bytes}"
        )
    seconds: float = client["seconds"]
    if workload == "bulk":
        return {"MB/s": sizes.bulk_bytes / seconds / 1e6, "seconds": seconds}
    if workload in ("ping-pong", "seqpacket-ping-pong"):
        return {"round trips/s": sizes.round_trips / seconds, "seconds": seconds}
    if workload == "connect-close":
        return {"connections/s": sizes.connections / seconds, "seconds": seconds}
    count = concurrent_count(contender, sizes)
    return {
        "connections": count,
        "seconds": seconds,
        "echoes/s": count / seconds,
        "KiB/connection": (server["rss_idle"] - server["rss_before"]) / count / 1024,
        "threads/connection": (server["threads_idle"] - server["threads_before"])
        / count,
    }
