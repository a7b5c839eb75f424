"""
Run the kernel tier: the tests marked ``kernel``, inside the guest VM.

When the guest cannot run on this machine the tier is skipped with one loud
line, except under CI (``CI=true``), where that is a failure: CI must prove
the AF_VSOCK claims against a real kernel.

Before the guest boots, the Go peer of the foreign-peer tests is built here
on the host (``tests/peers/build.py``); the guest runs it from the shared
checkout. If it cannot be built, those tests skip loudly, or fail under CI.

Usage: ``python tests/vm/kernel_tier.py [--nested] [PYTEST ARGS...]``

With ``--nested`` it runs the nested tier instead: the tests marked
``nested``, in a guest booted with ``tests/vm/run --nested``, which boot an
inner guest of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).with_name("run")
BUILD_PEERS = Path(__file__).parents[1] / "peers" / "build.py"


def guest_unavailable_reason() -> str | None:
    """Why the guest cannot boot here, or ``None`` when it can."""
    check = subprocess.run([str(RUN), "--check"], capture_output=True, text=True)
    if check.returncode == 0:
        return None
    lines = (check.stdout + check.stderr).strip().splitlines()
    return lines[-1] if lines else f"tests/vm/run --check exited {check.returncode}"


#: The longest the nested tier may take (about 17 minutes on two cores), so
#: that a hung guest fails the run instead of outlasting CI.
NESTED_TIMEOUT = 2700


def main(pytest_args: list[str]) -> int:
    reason = guest_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            print(
                f"KERNEL TIER FAILED: the guest VM cannot run here: {reason}",
                flush=True,
            )
            return 1
        print(
            f"!!! KERNEL TIER SKIPPED: the guest VM cannot run here: {reason}",
            flush=True,
        )
        return 0
    # Both tiers run the Go peer (tests/peers), built here: the guest has no
    # network and little speed. A failed build leaves its tests to report it.
    build = subprocess.run(
        [sys.executable, str(BUILD_PEERS)], capture_output=True, text=True
    )
    if build.returncode != 0:
        print(f"!!! {build.stderr.strip()}", flush=True)
    if pytest_args[:1] == ["--nested"]:
        pytest_args = ["tests/nested", *pytest_args[1:]]
        command = [
            str(RUN), "--nested", "--timeout", str(NESTED_TIMEOUT),
            sys.executable, "-m", "pytest", "-m", "nested",
        ]  # fmt: skip
    else:
        command = [str(RUN), sys.executable, "-m", "pytest", "-m", "kernel"]
    return subprocess.call([*command, *pytest_args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
