"""
Unix-socket facts on real files: which paths fit a socket address, which
socket files a listener may remove (its own, a stale one) and which it must
leave (a regular file, a live listener's, one put over its path later).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from twisted.internet.error import CannotListenError

from twisted_hvsock._sockets.unix import (
    check_path_text,
    check_socket_path,
    in_filesystem,
    remove_socket_file,
    remove_stale_socket,
    socket_file_identity,
)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "live.sock")
    skt = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    skt.bind(path)
    skt.listen(1)
    yield path, skt
    skt.close()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "path must be a non-empty path"),
        ("a\0b", "holds a NUL byte"),
        ("/" + "x" * 200, "at most 108 bytes here: use a shorter or a relative path"),
    ],
)
def test_paths_that_cannot_be_socket_addresses_are_named(
    path: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_socket_path(path)


def test_the_longest_socket_path_fits() -> None:
    longest = "/" + "x" * 107
    assert check_socket_path(longest) == longest


def test_path_text_must_be_non_empty_text() -> None:
    assert check_path_text("/run/vm", "a directory") == "/run/vm"
    with pytest.raises(ValueError, match="uds_path must be the VMM's socket, got b'x'"):
        check_path_text(b"x", "the VMM's socket", "uds_path")


def test_abstract_names_are_not_in_the_filesystem() -> None:
    assert not in_filesystem("\0hvsock") and not in_filesystem(b"\0hvsock")
    assert in_filesystem("/run/x.sock")


def test_a_stale_socket_file_is_removed(tmp_path: Path) -> None:
    path = str(tmp_path / "stale.sock")
    skt = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    skt.bind(path)
    skt.close()  # bound, never listening: nothing answers there
    remove_stale_socket(path)
    assert not os.path.exists(path)


def test_a_live_listener_s_socket_is_left(listener: tuple[str, socket.socket]) -> None:
    path, _ = listener
    with pytest.raises(CannotListenError, match="another listener is running there"):
        remove_stale_socket(path)
    assert os.path.exists(path)


def test_a_file_that_is_not_a_socket_is_left(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    with pytest.raises(CannotListenError, match="is not a socket; not removing it"):
        remove_stale_socket(str(path))
    assert path.read_text() == "mine"


def test_nothing_there_is_nothing_to_remove(tmp_path: Path) -> None:
    remove_stale_socket(str(tmp_path / "absent.sock"))


def test_a_listener_removes_only_the_socket_file_it_bound(
    listener: tuple[str, socket.socket], tmp_path: Path
) -> None:
    path, _ = listener
    identity = socket_file_identity(path)
    assert identity is not None
    # Someone put a file of their own over the path while it listened.
    os.unlink(path)
    Path(path).write_text("theirs")
    remove_socket_file(path, identity)
    assert Path(path).read_text() == "theirs"
    os.unlink(path)
    # Its own file goes.
    again = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    again.bind(path)
    remove_socket_file(path, socket_file_identity(path))
    again.close()
    assert not os.path.exists(path)


def test_abstract_names_have_no_file_to_recognise() -> None:
    assert socket_file_identity("\0hvsock-test") is None
    assert socket_file_identity("/nonexistent/x.sock") is None
