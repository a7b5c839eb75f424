"""
The thread engine: blocking sockets, with each connection's reads and writes
on threads of its own, for sockets a reactor cannot poll (Hyper-V sockets on
Windows cannot be given to ``select``).

The modules, each with one job:

- :mod:`.families`: what the engine needs to know about each address family;
- :mod:`.plumbing`: sizes, :class:`.SocketCalls`, the per-reactor registry
  that reactor shutdown empties, handing work to the reactor thread;
- :mod:`.connection_threads`: a connection's reader and writer threads, and
  the state they share with the reactor thread under one lock;
- :mod:`.transport`: the reactor side, the Twisted transport a protocol sees;
- :mod:`.tls`: ``startTLS`` on top of it;
- :mod:`.client` and :mod:`.port`: connecting, listening and accepting.

Everything the protocol sees happens on the reactor thread; the threads
only block in the kernel and hand what they got to the reactor thread.
"""

from __future__ import annotations

from .client import ThreadedClient, ThreadedConnector
from .families import UNIX, VSOCK, HyperVFamily, SocketFamily
from .plumbing import BUFFER_SIZE, READ_AHEAD, RECV_SIZE, SEND_SIZE
from .port import ThreadedPort, ThreadedServer

__all__ = [
    "BUFFER_SIZE",
    "READ_AHEAD",
    "RECV_SIZE",
    "SEND_SIZE",
    "UNIX",
    "VSOCK",
    "HyperVFamily",
    "SocketFamily",
    "ThreadedClient",
    "ThreadedConnector",
    "ThreadedPort",
    "ThreadedServer",
]
