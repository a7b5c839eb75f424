"""
Unix-socket facts: how long a socket path may be, which names live in the
abstract namespace, socket files left behind by a listener that is gone,
and the send timeout that bounds a blocking connect.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import sys

from twisted.internet import error

from . import timeval

__all__ = [
    "OWNER_ONLY",
    "FileIdentity",
    "check_path_text",
    "check_socket_path",
    "in_filesystem",
    "remove_socket_file",
    "remove_stale_socket",
    "set_send_timeout",
    "socket_file_identity",
]

#: The permission bits of a listening socket file unless ``mode`` says
#: otherwise: only its owner may connect.
OWNER_ONLY = 0o600

# sun_path is 104 bytes on macOS and the BSDs, where the name must end in
# NUL; Linux's 108 bytes need no NUL.
_SUN_PATH_MAX = 108 if sys.platform.startswith("linux") else 103


def check_path_text(path: object, what: str, name: str = "path") -> str:
    """
    Check that ``path`` is a non-empty ``str`` (the text a socket path is
    built from) and return it.

    :param what: what the path must be, for the error (``"hyperkit's socket
        directory"``).
    :raises ValueError: naming ``name`` and ``what``.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"{name} must be {what}, got {path!r}")
    return path


def check_socket_path(path: str, name: str = "path") -> str:
    """
    Check that ``path`` fits in a Unix socket address and return it.

    :param name: the option ``ValueError`` names.
    :raises ValueError: naming ``name`` when it is empty, too long, holds a
        NUL byte, or is not encodable as a file name.
    """
    if not path:
        raise ValueError(f"{name} must be a non-empty path")
    if "\0" in path:
        # The kernel would cut the name at the NUL: connect somewhere else.
        raise ValueError(f"{name} {path!r} holds a NUL byte, which no file name can")
    try:
        size = len(os.fsencode(path))
    except UnicodeEncodeError:
        raise ValueError(
            f"{name} {path!r} cannot be written as a file name here "
            f"({sys.getfilesystemencoding()}): use a path of valid characters"
        ) from None
    if size > _SUN_PATH_MAX:
        raise ValueError(
            f"{name} gives the socket path {path!r}, {size} bytes long; a Unix "
            f"socket path holds at most {_SUN_PATH_MAX} bytes here: use a "
            "shorter or a relative path"
        )
    return path


def in_filesystem(path: str | bytes) -> bool:
    """Whether ``path`` names a socket file, not a name in the abstract namespace."""
    return path[:1] not in ("\0", b"\0")


#: What names one file: its device and inode.
FileIdentity = tuple[int, int]


def socket_file_identity(path: object) -> FileIdentity | None:
    """
    The device and inode of the socket file at ``path``, to recognise it
    later; ``None`` for an abstract name or a path with no file.
    """
    if not (isinstance(path, (str, bytes)) and in_filesystem(path)):
        return None
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


def remove_socket_file(path: object, identity: FileIdentity | None) -> None:
    """
    Remove the socket file a listener bound to ``path`` leaves, if it is
    still the one ``identity`` names: whatever was put there since (a
    regular file, another program's socket) is not ours to delete.
    """
    if identity is None or not isinstance(path, (str, bytes)):
        return
    with contextlib.suppress(OSError):
        status = os.lstat(path)
        if (status.st_dev, status.st_ino) == identity and stat.S_ISSOCK(status.st_mode):
            os.unlink(path)


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


def set_send_timeout(skt: socket.socket, seconds: float) -> None:
    """
    Make blocked sends give up after ``seconds`` (0: never). A blocking Unix
    ``connect`` waits only while the listener's backlog is full, and gives
    up after the send timeout.
    """
    skt.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval(seconds))
