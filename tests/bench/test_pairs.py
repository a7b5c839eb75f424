"""
Which workloads each contender of tests/bench/pairs.py runs, and what the
compiled peer (tests/bench/peer.c) says when asked for one it cannot run.
"""

from __future__ import annotations

import subprocess

import pytest

from .compiled import build_peer
from .pairs import workloads_of
from .run_benchmarks import plan_for


def test_the_compiled_peer_has_the_seqpacket_workload_over_vsock_only() -> None:
    assert "seqpacket-ping-pong" in workloads_of("c")
    assert "c" in plan_for("vsock", skipped=())["seqpacket-ping-pong"]
    # AF_UNIX has no seqpacket contenders to compare with.
    assert "seqpacket-ping-pong" not in plan_for("unix", skipped=())


def test_the_compiled_peer_refuses_seqpacket_over_unix_sockets() -> None:
    program, why = build_peer()
    if program is None:
        pytest.skip(why)
    for role in (["server"], ["client", "somewhere"]):
        command = [str(program), role[0], "seqpacket-ping-pong", "unix", *role[1:]]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 1
        assert result.stderr == (
            "peer: seqpacket-ping-pong runs over vsock only, not unix\n"
        )
        assert result.stdout == ""
