"""
One measurement: ``python -m tests.bench.measure CONTENDER WORKLOAD FAMILY
[--sizes full|tiny]`` prints one JSON object, measured with each end in a
process of its own (:mod:`tests.bench.pairs`), or with both in this one
(``--one-process``, the older measurement, which :func:`measure` makes).

Under a profiler, run one end at a time in the foreground: ``--role server``
prints ``ready ADDRESS`` once it listens and its report when done, and
``--role client --address ADDRESS`` (in another shell) prints the client's
timing. Nothing here installs a reactor until a Twisted contender runs, so the
orchestrator can import it all and then fork a child per measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twisted.internet import defer
from twisted.internet.task import react

from . import pairs
from .baselines import BASELINES, Measurement
from .compiled import build_peer
from .memory import allow_many_descriptors
from .places import place_named
from .sizes import PRESETS, Sizes
from .twisted_contenders import WORKLOADS

#: The Twisted contenders, and whether each uses the thread-backed engine.
TWISTED = {"native": False, "threads": True}
#: The contenders measured with both ends in one process.
CONTENDERS = ("raw", "asyncio", "socat", *TWISTED)


def measure(contender: str, workload: str, family: str, sizes: Sizes) -> Measurement:
    """
    Run ``workload`` once with ``contender`` over ``family``.

    :raises ValueError: for a contender that has no such workload.
    """
    place = place_named(family)
    allow_many_descriptors()
    if contender in TWISTED:
        return _measure_twisted(TWISTED[contender], workload, place, sizes)
    try:
        run = BASELINES[contender][workload]
    except KeyError:
        raise ValueError(f"{contender} has no {workload} workload") from None
    return run(place, sizes)


def _measure_twisted(
    threads: bool, workload: str, place: Any, sizes: Sizes
) -> Measurement:
    run = WORKLOADS[workload]
    results: list[Measurement] = []

    async def main(reactor: Any) -> None:
        results.append(await run(reactor, place, threads, sizes))

    try:
        react(lambda reactor: defer.Deferred.fromCoroutine(main(reactor)))
    except SystemExit as e:
        # react() always exits; a failure has been logged to stderr by now.
        if e.code:
            raise
    return results[0]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.measure")
    parser.add_argument("contender", choices=pairs.CONTENDERS)
    parser.add_argument("workload")
    parser.add_argument("family", choices=["vsock", "unix"])
    parser.add_argument("--sizes", choices=sorted(PRESETS), default="full")
    parser.add_argument("--one-process", action="store_true")
    parser.add_argument("--role", choices=["server", "client"])
    parser.add_argument("--address", help="the server's, for --role client")
    args = parser.parse_args(argv)
    sizes = PRESETS[args.sizes]
    if args.role:
        result = _one_end(args.contender, args.workload, args.family, sizes, args)
    elif args.one_process:
        result = measure(args.contender, args.workload, args.family, sizes)
    else:
        program = build_peer()[0] if args.contender == "c" else None
        result = pairs.measure_pair(
            args.contender, args.workload, args.family, sizes, program
        )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


def _one_end(
    contender: str, workload: str, family: str, sizes: Sizes, args: Any
) -> dict[str, Any]:
    """One end of a Python contender, in this process."""
    peers = pairs.PYTHON_PEERS.get(contender)
    if peers is None:
        raise SystemExit(f"--role runs a Python contender's end, not {contender}'s")
    allow_many_descriptors()
    place = place_named(family)
    if args.role == "server":
        report: dict[str, Any] = peers.SERVERS[workload](
            place,
            sizes,
            contender,
            lambda address: print(f"ready {address}", flush=True),
        )
        return report
    if args.address is None:
        raise SystemExit("--role client needs --address (what the server printed)")
    client: dict[str, Any] = peers.CLIENTS[workload](
        place, args.address, sizes, contender
    )
    return client


if __name__ == "__main__":
    main(sys.argv[1:])
