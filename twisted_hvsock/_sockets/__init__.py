"""
The socket facts of each address family, shared by both I/O engines: how to
make a socket of the family, the options it takes and how to set them, and
the errors its calls report turned into ones that say what to do.

Nothing here does I/O or knows an engine: ``_engines.reactor`` and
``_engines.threads`` both build on these modules, and never on each other.

- :mod:`.vsock`: Linux AF_VSOCK.
- :mod:`.hyperv`: Windows AF_HYPERV.
- :mod:`.unix`: Unix sockets, as hypervisors expose guest vsock through them.
"""

from __future__ import annotations

import struct

__all__ = ["LINGER_ZERO", "TIMEVAL", "timeval"]

#: A POSIX ``struct linger`` that makes ``close`` drop unsent data at once.
LINGER_ZERO = struct.pack("ii", 1, 0)

#: The layout of a ``struct timeval``: seconds and microseconds, C longs.
TIMEVAL = struct.Struct("@ll")


def timeval(seconds: float) -> bytes:
    """``seconds`` as a ``struct timeval``, for the socket options that take one."""
    whole = int(seconds)
    return TIMEVAL.pack(whole, int((seconds - whole) * 1_000_000))
