"""
Plain AF_VSOCK helpers for kernel-tier tests (guest only).
"""

from __future__ import annotations

import socket
import time

CID_LOCAL = 1  # socket.VMADDR_CID_LOCAL is missing before Python 3.12


def free_vsock_port() -> int:
    """A vsock port nothing listens on now."""
    with socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM) as probe:
        probe.bind((socket.VMADDR_CID_ANY, socket.VMADDR_PORT_ANY))
        port: int = probe.getsockname()[1]
        return port


def connect_when_listening(port: int, timeout: float = 120) -> socket.socket:
    """
    Connect to ``port`` on CID 1 once another process listens there, polling
    (there is no event to wait for) until ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        client = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        try:
            client.connect((CID_LOCAL, port))
            return client
        except ConnectionResetError:
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
