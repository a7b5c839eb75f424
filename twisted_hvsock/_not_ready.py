"""
What "not there yet" looks like for each backend: which failed connects a
client given ``wait=`` tries again (:mod:`._waiting`), as plain functions of
the failure.

They read the Twisted error classes ``_sockets`` and ``_handshake`` turn
each backend's failures into (the ones users catch for TCP). Everything else
fails at once, as waiting cannot mend it: an address the kernel rejects, a
permission refused, a socket family this machine lacks, a ``ValueError``,
an unknown VM name.
"""

from __future__ import annotations

import errno

from twisted.internet import error
from twisted.python.failure import Failure

__all__ = [
    "hyperv_not_ready",
    "not_there_yet",
    "vmm_socket_not_ready",
    "vsock_not_ready",
]

# The listener is not up (a refusal), or the machine it runs on does not
# answer yet (the endpoint's timeout or the kernel's).
_REFUSED_OR_SILENT = (
    error.ConnectionRefusedError,
    error.TimeoutError,
    error.TCPTimedOutError,
)


def vsock_not_ready(failure: Failure) -> bool:
    """
    Whether an AF_VSOCK connect (``vsock:``, and ``hvsock:`` in a Linux
    guest) failed because the other side is not there yet: nothing listens
    on the port (refused, or reset as virtio answers a port nobody listens
    on), the peer does not answer (a guest whose vsock driver is still
    starting), or no transport reaches the CID yet (``NoRouteError``: on a
    host, ``ENODEV`` until the VM's process has opened its vsock device).
    """
    return isinstance(failure.value, (*_REFUSED_OR_SILENT, error.NoRouteError))


#: Whether an AF_HYPERV connect (``hvsock:`` on a Windows host) failed
#: because the other side is not there yet: ``_sockets.hyperv`` turns
#: Winsock's refusal (nothing listens on the service), timeout (the VM does
#: not answer while it boots) and unreachable VM (none with that ID runs
#: yet) into the classes :func:`vsock_not_ready` accepts, and access denied
#: (a service not registered on the host) into one it does not.
hyperv_not_ready = vsock_not_ready


def vmm_socket_not_ready(failure: Failure) -> bool:
    """
    Whether a connect through a VMM's Unix socket (``hybridvsock:``,
    ``hyperkit:``) failed because the other side is not there yet: no socket
    file yet (the VMM has not started), nobody listening on it (refused),
    or, for hybrid vsock, the VMM closing or not answering the ``CONNECT``
    line (nothing listens on the guest's port yet). A socket file its mode
    keeps from us fails at once.

    hyperkit sends no answer, so a guest port nobody listens on yet shows up
    only once connected, as the connection closing: waiting covers hyperkit
    itself starting, not the guest's service.
    """
    value = failure.value
    if isinstance(value, _REFUSED_OR_SILENT):
        return True
    # _handshake names the socket file in the error and keeps the socket's
    # errno beside it.
    number = getattr(value, "errno", None) or getattr(value, "osError", None)
    return isinstance(value, error.ConnectError) and number == errno.ENOENT


def not_there_yet(failure: Failure) -> bool:
    """
    Whether a failed connect means "not there yet" for any backend: what a
    tool waits through for an address it did not parse itself (``hvsock cat
    --wait``, whatever the endpoint string).
    """
    return vsock_not_ready(failure) or vmm_socket_not_ready(failure)
