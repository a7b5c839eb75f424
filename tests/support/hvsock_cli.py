"""
Running the ``hvsock`` tool in subprocesses, as users do.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

HVSOCK = [sys.executable, "-m", "twisted_hvsock"]


def hvsock(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run ``hvsock ARGS`` to completion."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("timeout", 300)
    return subprocess.run([*HVSOCK, *args], check=False, **kwargs)


def start_listener(
    *args: str, stdin: IO[bytes] | int = subprocess.DEVNULL, stdout: IO[bytes] | int
) -> tuple[subprocess.Popen[bytes], str]:
    """
    Start ``hvsock ARGS`` that listens, and wait for its "listening on"
    line; return the process and the address it printed.
    """
    process = subprocess.Popen(
        [*HVSOCK, *args], stdin=stdin, stdout=stdout, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    line = process.stderr.readline().decode()
    match = re.match(r"listening on (\S+)", line)
    if match is None:
        process.kill()
        raise AssertionError(
            f"no 'listening on' line: {line!r}{process.stderr.read()!r}"
        )
    return process, match[1]


def vsock_port_of(address: str) -> int:
    """The port of a printed ``vsock://<cid>:<port>`` address."""
    return int(address.rpartition(":")[2])


def write_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


async def hvsock_in_process(*argv: str) -> int:
    """Run ``hvsock ARGV`` in this process, on the running reactor; its exit status."""
    from twisted.internet import reactor

    from twisted_hvsock.cli.main import Options, _run

    options = Options()
    options.parseOptions(list(argv))
    try:
        await _run(reactor, options.subCommand, options.subOptions)
    except SystemExit as e:
        return int(e.code or 0)
    return 0
