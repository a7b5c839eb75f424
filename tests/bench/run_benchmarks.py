"""
Run the benchmark suite and regenerate ``docs/performance/``.

``python -m tests.bench.run_benchmarks`` (what ``tox -e bench`` runs) boots
the guest VM once for the AF_VSOCK workloads, runs the AF_UNIX workloads on
the host, and writes the report. Each measurement starts a server process
and, once it listens, a client process (:mod:`tests.bench.pairs`); the
contenders take turns (their order rotates every repetition) after a warm-up
transfer each, so that a slow spell of the machine is shared out rather than
landing on one contender. A measurement that fails, or counts other than the
bytes and connections it should, is recorded as failed, and the run exits 1
once the report is written.

``--one-process`` also runs the older measurements with both ends in one
process (:mod:`tests.bench.measure`), reported in a table of their own.
``--tier guest`` or ``--tier host`` runs one half and writes only the raw
measurements (``--raw``); ``--sizes tiny`` makes every workload small, for
the smoke test; ``--workload`` (repeatable) runs only the workloads named.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, NoReturn

from . import report
from .compiled import build_peer
from .measure import measure
from .pairs import CONTENDERS, measure_pair, workloads_of
from .processes import PeerFailed
from .sizes import PRESETS, preset_for

REPOSITORY = Path(__file__).resolve().parents[2]
VM_RUN = REPOSITORY / "tests" / "vm" / "run"
DOCS_OUT = REPOSITORY / "docs" / "performance"
#: A measurement that takes longer than this has hung.
MEASUREMENT_TIMEOUT = 600
#: The whole guest run, in seconds (tests/vm/run --timeout).
GUEST_TIMEOUT = 2700

WORKLOADS = (
    "bulk",
    "ping-pong",
    "seqpacket-ping-pong",
    "connect-close",
    "concurrent-echo",
)
#: workload -> contenders, each end in a process of its own.
PLAN: dict[str, list[str]] = {
    workload: [c for c in CONTENDERS if workload in workloads_of(c)]
    for workload in WORKLOADS
}
#: The workloads of one family only (AF_UNIX has no Twisted seqpacket transport).
FAMILY_OF = {"seqpacket-ping-pong": "vsock"}
#: family -> workload -> contenders, both ends in one process.
ONE_PROCESS_PLANS: dict[str, dict[str, list[str]]] = {
    "vsock": {
        "bulk": ["raw", "asyncio", "socat", "native", "threads"],
        "ping-pong": ["raw", "asyncio", "native", "threads"],
        "connect-close": ["raw", "asyncio", "native", "threads"],
        "concurrent-echo": ["raw", "asyncio", "native", "threads"],
    },
    "unix": {
        "bulk": ["raw", "asyncio", "native", "threads"],
        "ping-pong": ["raw", "asyncio", "native", "threads"],
    },
}
TIER_FAMILY = {"guest": "vsock", "host": "unix"}


def plan_for(
    family: str, skipped: Collection[str], workloads: Collection[str] = WORKLOADS
) -> dict[str, list[str]]:
    """:data:`PLAN` for ``family``'s ``workloads``, less the ``skipped`` contenders."""
    return {
        workload: [c for c in contenders if c not in skipped]
        for workload, contenders in PLAN.items()
        if workload in workloads and FAMILY_OF.get(workload, family) == family
    }


def run_pair(
    contender: str, workload: str, family: str, sizes: str, program: Path | None
) -> dict[str, Any]:
    """One measurement with each end in a process of its own, or why it failed."""
    try:
        return measure_pair(contender, workload, family, PRESETS[sizes], program)
    except (PeerFailed, OSError) as e:
        return {"error": f"{type(e).__name__}: {e}"}


def run_one(contender: str, workload: str, family: str, sizes: str) -> dict[str, Any]:
    """
    One measurement with both ends in a forked child, so that no run
    inherits another's reactor, threads, descriptors or memory; its result,
    or why it failed.

    Forked rather than started afresh: in the emulated guest a new Python
    process takes seconds to import what a measurement needs.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        _measure_in_child(contender, workload, family, sizes, writer)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        if not select.select([pipe], [], [], MEASUREMENT_TIMEOUT)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"error": f"timed out after {MEASUREMENT_TIMEOUT} s"}
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not output:
        return {"error": f"the measuring process died (wait status {status})"}
    result: dict[str, Any] = json.loads(output)
    return result


def _measure_in_child(
    contender: str, workload: str, family: str, sizes: str, writer: int
) -> NoReturn:
    try:
        result: dict[str, Any] = measure(contender, workload, family, PRESETS[sizes])
    except BaseException as e:
        result = {"error": f"{type(e).__name__}: {e}"}
    with os.fdopen(writer, "w") as pipe:
        json.dump(result, pipe)
    os._exit(0)


def run_tier(
    tier: str,
    sizes: str,
    reps: int,
    warm_up: bool,
    one_process: bool = False,
    save: Callable[[dict[str, Any]], None] | None = None,
    workloads: Collection[str] = WORKLOADS,
) -> dict[str, Any]:
    """
    Every workload of ``tier`` (of ``workloads``), ``reps`` times, contenders
    interleaved.

    :param save: called with the measurements so far after each one (with
        ``complete`` false until the last), so that a run cut short by the
        guest's time limit still leaves what it measured.
    """
    family = TIER_FAMILY[tier]
    program, built = build_peer()
    skipped = {}
    if program is None:
        skipped["c"] = built
    if shutil.which("socat") is None:
        skipped["socat"] = "socat is not installed"
    for contender, why in skipped.items():
        _progress(f"SKIPPED {report.CONTENDER_NAMES[contender]}: {why}")
    plan = plan_for(family, skipped, workloads)
    warm_ups = {"two-process": plan_for(family, skipped)["bulk"]}

    def two_processes(contender: str, workload: str) -> dict[str, Any]:
        return run_pair(contender, workload, family, sizes, program)

    def one(contender: str, workload: str) -> dict[str, Any]:
        return run_one(contender, workload, family, sizes)

    modes = [("two-process", plan, two_processes)]
    if one_process:
        one_plan = ONE_PROCESS_PLANS[family]
        modes.append(
            ("one-process", {w: one_plan[w] for w in one_plan if w in workloads}, one)
        )
        warm_ups["one-process"] = ONE_PROCESS_PLANS[family]["bulk"]
    runs: list[dict[str, Any]] = []
    measured = {
        "tier": tier,
        "sizes": sizes,
        "reps": reps,
        "machine": _machine(),
        "compiled_peer": built,
        "skipped": skipped,
        "complete": False,
        "runs": runs,
    }
    for mode, mode_plan, run in modes:
        if warm_up:
            # The first transfers after boot run much slower under emulation.
            for contender in warm_ups[mode]:
                result = run(contender, "bulk")
                _progress(f"{tier} {mode} warm-up bulk {contender}: {result}")
        for rep in range(reps):
            for workload, contenders in mode_plan.items():
                turn = rep % len(contenders)
                for contender in contenders[turn:] + contenders[:turn]:
                    load = os.getloadavg()[0]
                    result = run(contender, workload)
                    _progress(
                        f"{tier} {mode} rep {rep + 1} {workload} {contender}: {result}"
                    )
                    runs.append(
                        {
                            "mode": mode,
                            "family": family,
                            "workload": workload,
                            "contender": contender,
                            "rep": rep + 1,
                            "loadavg_1min": load,
                            "result": result,
                        }
                    )
                    if save is not None:
                        save(measured)
    measured["complete"] = True
    if save is not None:
        save(measured)
    return measured


def failures(tiers: list[dict[str, Any]]) -> list[str]:
    """Every failed measurement (and tier cut short), one line each."""
    cut_short = [
        f"the {tier['tier']} tier ended early: {tier.get('ended', 'incomplete')}"
        for tier in tiers
        if not tier.get("complete", True)
    ]
    return cut_short + [
        f"{run.get('mode', 'one-process')} {run['family']} {run['workload']} "
        f"{run['contender']} rep {run['rep']}: {run['result']['error']}"
        for tier in tiers
        for run in tier["runs"]
        if "error" in run["result"]
    ]


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "in_guest_vm": os.environ.get("HVSOCK_IN_VM") == "1",
    }


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_guest(
    raw: Path, sizes: str, reps: int, warm_up: bool, one_process: bool
) -> dict[str, Any]:
    """The vsock tier inside one boot of the guest VM."""
    command = [str(VM_RUN), "--timeout", str(GUEST_TIMEOUT), sys.executable]
    command += ["-m", "tests.bench.run_benchmarks", "--tier", "guest"]
    command += ["--sizes", sizes, "--reps", str(reps), "--raw", str(raw)]
    if not warm_up:
        command.append("--no-warm-up")
    if one_process:
        command.append("--one-process")
    host_load = {"before": os.getloadavg()}
    raw.unlink(missing_ok=True)
    status = subprocess.run(command, cwd=REPOSITORY).returncode
    host_load["after"] = os.getloadavg()
    if not raw.exists():
        raise RuntimeError(f"the guest run measured nothing (exit status {status})")
    guest: dict[str, Any] = json.loads(raw.read_text())
    guest["host_loadavg"] = host_load
    if status != 0:
        # tests/vm/run exits 124 when its time limit kills the guest.
        guest["complete"] = False
        guest["ended"] = f"tests/vm/run exited with status {status}"
        _progress(f"THE GUEST RUN ENDED EARLY ({guest['ended']}): partial results")
    return guest


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run_benchmarks")
    parser.add_argument("--tier", choices=["all", "guest", "host"], default="all")
    parser.add_argument(
        "--sizes",
        choices=sorted(PRESETS),
        help="the workloads' sizes (default: full in the guest, host on the host)",
    )
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    parser.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        help="run only this workload (repeatable; with --tier guest|host)",
    )
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="also measure with both ends in one process (a second table)",
    )
    parser.add_argument(
        "--raw",
        type=Path,
        help="where --tier guest|host writes its measurements (a path inside "
        "the repository, which the guest shares)",
    )
    parser.add_argument("--out", type=Path, default=DOCS_OUT)
    args = parser.parse_args(argv)
    if args.workload and args.tier == "all":
        parser.error("--workload needs --tier guest|host")
    if args.tier != "all":
        if args.raw is None:
            parser.error("--tier guest|host needs --raw")

        def save(measured: dict[str, Any]) -> None:
            args.raw.write_text(json.dumps(measured, indent=2))

        run_tier(
            args.tier,
            preset_for(args.tier, args.sizes),
            args.reps,
            args.warm_up,
            args.one_process,
            save,
            args.workload or WORKLOADS,
        )
        return
    scratch = REPOSITORY / ".tox" / "bench-raw"
    scratch.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # Built here, before the guest boots: it shares the repository, and the
    # compiler runs fifteen times faster on the host.
    _progress(f"compiled peer: {build_peer()[1]}")
    guest = run_guest(
        scratch / "guest.json",
        preset_for("guest", args.sizes),
        args.reps,
        args.warm_up,
        args.one_process,
    )
    host = run_tier(
        "host",
        preset_for("host", args.sizes),
        args.reps,
        args.warm_up,
        args.one_process,
    )
    report.write(args.out, started, [guest, host])
    failed = failures([guest, host])
    if failed:
        _progress(f"{len(failed)} MEASUREMENTS FAILED:")
        for line in failed:
            _progress(f"  {line}")
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
