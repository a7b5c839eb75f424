"""
A sender of systemd notify messages that behaves as PID 1 does, for
kernel-tier tests (guest only): one message per connection, from a reserved
source port (the tests run as root in the guest).
"""

from __future__ import annotations

import contextlib
import itertools
import socket

from .vsock import CID_LOCAL

#: The socket types PID 1 may send over, by the name ``type=`` gives them.
KINDS = {"seqpacket": socket.SOCK_SEQPACKET, "stream": socket.SOCK_STREAM}

#: Reserved source ports, a new one per connection: a closed vsock socket's
#: port may stay taken for a while.
_reserved_ports = itertools.count(600)


def send_as_pid1(
    port: int, data: bytes, kind: str, source_port: int | None = None
) -> int:
    """
    Send ``data`` as one notify message to CID 1's ``port`` over ``kind``
    (``"seqpacket"`` or ``"stream"``, then shut down the sending side) from
    a reserved port, or ``source_port``, and wait until the receiver closes;
    return the source port.
    """
    with socket.socket(socket.AF_VSOCK, KINDS[kind]) as sender:
        sender.settimeout(60)  # a hang guard
        if source_port is None:
            source_port = next(_reserved_ports)
        sender.bind((socket.VMADDR_CID_ANY, source_port))
        sender.connect((CID_LOCAL, port))
        # A refused sender is closed at once: its send may fail, and that
        # is what the test expects.
        with contextlib.suppress(OSError):
            sender.sendall(data)  # one message over seqpacket
            sender.shutdown(socket.SHUT_WR)
            while sender.recv(8192):
                pass
        return source_port
