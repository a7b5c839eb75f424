"""
Running ``twistd web`` in a subprocess, as the docs tell users to.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .vsock import connect_when_listening


def start_twistd_web(listen: str, path: Path) -> subprocess.Popen[bytes]:
    """Start ``twistd -n web --listen LISTEN --path PATH``."""
    twistd = Path(sys.executable).with_name("twistd")
    return subprocess.Popen(
        [
            *(str(twistd), "-n", "--pidfile=", "web"),
            *("--listen", listen, "--path", str(path)),
        ],
        cwd=path,
        stderr=subprocess.STDOUT,
    )


def wait_until_serving_vsock(server: subprocess.Popen[bytes], port: int) -> None:
    """
    Wait until ``server`` accepts on vsock ``port`` of CID 1 (guest only);
    twistd takes tens of seconds to start in the emulated guest, more on a
    busy machine.

    :raises AssertionError: if it exits first, or is not serving in 600 s.
    """
    deadline = time.monotonic() + 600
    while True:
        assert server.poll() is None, "twistd exited before serving"
        try:
            connect_when_listening(port, timeout=5).close()
            return
        except ConnectionResetError:
            if time.monotonic() > deadline:
                raise
