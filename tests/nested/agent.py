"""
The inner guest's agent: runs scenario ends (:mod:`.peer`) for the outer
guest's tests, each in a child forked from this already-warm process (a
fresh Python takes long to start in a guest nested inside an emulated one).

A test connects to :data:`AGENT_PORT` on the inner guest, sends one JSON
line ``{"role": ..., "args": [...]}``, and reads the child's JSON lines on
the same connection until it closes. ``{"role": "quit"}`` ends the agent,
and with it the inner guest.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any

# Imported before forking so that each child starts warm; none of them
# installs a reactor.
import twisted.internet.epollreactor  # noqa: F401
from twisted.internet.endpoints import clientFromString, serverFromString  # noqa: F401
from twisted.internet.interfaces import IStreamServerEndpointStringParser
from twisted.plugin import getPlugins

from twisted_hvsock import endpoints  # noqa: F401

from . import AGENT_PORT, READY, peer


def _read_request(connection: socket.socket) -> dict[str, Any] | None:
    """The request line a test sent, or None if it sent none."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            return None
        line += chunk
    request: dict[str, Any] = json.loads(line)
    return request


def _serve(connection: socket.socket, request: dict[str, Any]) -> None:
    """In a forked child: run the requested role with the connection as stdout."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    code = 0
    try:
        os.dup2(connection.fileno(), 1)
        connection.close()
        sys.stdout = os.fdopen(1, "w", closefd=False)
        peer.run(request["role"], *request.get("args", []))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException as e:
        peer.say(error=f"agent: {type(e).__name__}: {e}")
        code = 1
    finally:
        sys.stdout.flush()
        os._exit(code)


def main() -> None:
    list(getPlugins(IStreamServerEndpointStringParser))  # warm the plugin cache
    # Children are reaped by the kernel.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    listener = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    listener.bind((socket.VMADDR_CID_ANY, AGENT_PORT))
    listener.listen(16)
    print(READY, flush=True)
    while True:
        connection, _ = listener.accept()
        with connection:
            request = _read_request(connection)
            if request is None:
                continue
            if request["role"] == "quit":
                return
            if os.fork() == 0:
                listener.close()
                _serve(connection, request)


if __name__ == "__main__":
    main()
