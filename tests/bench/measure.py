"""
One measurement: ``python -m tests.bench.measure CONTENDER WORKLOAD FAMILY
[--sizes full|tiny]`` prints one JSON object; handy under a profiler. Nothing
here installs a reactor until a Twisted contender runs, so the orchestrator
can import it all and then fork a child per measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from twisted.internet import defer
from twisted.internet.task import react

from .baselines import BASELINES, Measurement
from .memory import allow_many_descriptors
from .places import place_named
from .sizes import PRESETS, Sizes
from .twisted_contenders import WORKLOADS

#: The Twisted contenders, and whether each uses the thread-backed engine.
TWISTED = {"native": False, "threads": True}
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
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("workload")
    parser.add_argument("family", choices=["vsock", "unix"])
    parser.add_argument("--sizes", choices=sorted(PRESETS), default="full")
    args = parser.parse_args(argv)
    result = measure(args.contender, args.workload, args.family, PRESETS[args.sizes])
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
