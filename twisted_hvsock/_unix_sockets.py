# Twisted's errors and endpoints are untyped.
# mypy: disallow-untyped-calls=False
"""
The Unix-socket plumbing shared by the endpoints of hypervisors that expose
guest vsock as socket files (hyperkit, Firecracker, Cloud Hypervisor): path
checks, owner-only listening sockets, stale socket files, and the choice of
I/O engine.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
from typing import Any

from twisted.internet import defer, error
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._checks import check_backlog, check_io, check_mode
from .address import check_port
from .threaded_unix import ThreadedUNIXClientEndpoint, listen_threaded_unix

#: The permission bits of a listening socket file unless ``mode`` says
#: otherwise: only its owner may connect.
OWNER_ONLY = 0o600

# sun_path is 104 bytes on macOS and the BSDs, where the name must end in
# NUL; Linux's 108 bytes need no NUL.
_SUN_PATH_MAX = 108 if sys.platform.startswith("linux") else 103


def check_socket_path(path: str, name: str = "path") -> str:
    """
    Check that ``path`` fits in a Unix socket address and return it.

    :param name: the option ``ValueError`` names.
    :raises ValueError: naming ``name`` when it is empty or too long.
    """
    if not path:
        raise ValueError(f"{name} must be a non-empty path")
    size = len(os.fsencode(path))
    if size > _SUN_PATH_MAX:
        raise ValueError(
            f"{name} gives the socket path {path!r}, {size} bytes long; a Unix "
            f"socket path holds at most {_SUN_PATH_MAX} bytes here: use a "
            "shorter or a relative path"
        )
    return path


def remove_stale_socket(path: str) -> None:
    """
    Remove the socket file ``path`` if nothing listens on it any more, as a
    listener that did not stop cleanly leaves it behind.

    :raises CannotListenError: if ``path`` is not a socket (it is never
        removed), or a listener still answers there.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as e:
        raise error.CannotListenError(None, path, e) from e
    if not stat.S_ISSOCK(mode):
        raise error.CannotListenError(
            None, path, "it exists and is not a socket; not removing it"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        outcome = probe.connect_ex(path)
    finally:
        probe.close()
    if outcome in (errno.ECONNREFUSED, errno.ENOENT):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise error.CannotListenError(None, path, e) from e
        return
    if outcome in (0, errno.EAGAIN, errno.EINPROGRESS):
        raise error.CannotListenError(None, path, "another listener is running there")
    raise error.CannotListenError(None, path, OSError(outcome, os.strerror(outcome)))


def listen_unix(
    reactor: Any,
    path: str,
    factory: IProtocolFactory,
    *,
    backlog: int,
    mode: int,
    io: str,
) -> defer.Deferred[IListeningPort]:
    """
    Listen on the socket file ``path`` (replacing a stale one) with the I/O
    engine ``io``, the file's mode set before any connection can reach it.

    :return: a Deferred firing with the ``IListeningPort``.
    """

    def listen() -> IListeningPort:
        remove_stale_socket(path)
        if io == "threads":
            return listen_threaded_unix(
                reactor, path, factory, backlog=backlog, mode=mode
            )
        port: IListeningPort = reactor.listenUNIX(
            path, factory, backlog=backlog, mode=mode
        )
        return port

    return defer.execute(listen)


def unix_client(
    reactor: Any, path: str, timeout: float, io: str
) -> IStreamClientEndpoint:
    """A client endpoint for the socket file ``path`` on the I/O engine ``io``."""
    if io == "threads":
        return ThreadedUNIXClientEndpoint(reactor, path, timeout=timeout)
    return UNIXClientEndpoint(reactor, path, timeout=timeout)


@implementer(IStreamServerEndpoint)
class GuestConnectionListener:
    """
    The base of the endpoints that accept a guest's connections to one host
    vsock port by listening on the socket file the VMM connects to for that
    port. Subclasses say which file (:meth:`socket_path`).

    A socket file left there by a listener that is gone is replaced; a file
    that is not a socket, or a socket someone still listens on, is not.
    """

    #: Who would choose a port 0, in the error that refuses it.
    vmm = "the VMM"

    def __init__(
        self,
        reactor: Any,
        path: str,
        port: int,
        backlog: int = 50,
        mode: int = OWNER_ONLY,
        io: str | None = None,
    ) -> None:
        self._reactor = reactor
        self._port = check_port(port)
        if self._port == 0:
            raise ValueError(f"port must be given: {self.vmm} has no port 0 to choose")
        self._path = check_socket_path(self.socket_path(path, self._port))
        self._backlog = check_backlog(backlog)
        self._mode = check_mode(mode)
        self._io = check_io(io, reactor)

    def socket_path(self, path: str, port: int) -> str:
        """The socket file to listen on for ``port``, given the ``path`` option."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path!r}>"

    def listen(
        self, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IListeningPort]:
        """
        Start listening.

        :return: a Deferred firing with the listening port, or failing with
            ``CannotListenError`` that says why.
        """
        return listen_unix(
            self._reactor,
            self._path,
            protocolFactory,
            backlog=self._backlog,
            mode=self._mode,
            io=self._io,
        )
