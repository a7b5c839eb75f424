"""
The package's own errors read as sentences a user can act on, carry their
facts as attributes, and are caught by the handlers of the errors they
refine (``ValueError``, ``ImportError``, Twisted's ``ConnectError``).
"""

from __future__ import annotations

import pytest
from twisted.internet.error import ConnectError, ConnectionRefusedError

from twisted_hvsock.errors import (
    HyperVAdminRequiredError,
    HyperVUnavailableError,
    MessageTooLongError,
    MissingDependencyError,
    VMLookupError,
    VSockUnavailableError,
    WaitTimeoutError,
)


def test_a_message_longer_than_this_side_takes_names_size_and_limit() -> None:
    error = MessageTooLongError(300_000, 262_144)
    assert isinstance(error, ValueError)
    assert (error.size, error.limit, error.peer) == (300_000, 262_144, False)
    assert str(error) == (
        "a 300000-byte message is longer than this connection takes: "
        "262144 bytes, its vsock buffer (SO_VM_SOCKETS_BUFFER_SIZE)"
    )


def test_a_message_the_peer_cannot_take_says_the_kernel_refused_it() -> None:
    error = MessageTooLongError(200_000, 262_144, peer=True)
    assert error.peer
    assert str(error).startswith(
        "the kernel refused a 200000-byte message (ENOMEM): it is longer "
        "than the peer's vsock buffer"
    )


@pytest.mark.parametrize(
    ("elapsed", "attempts", "said"),
    [
        (10.0, 7, "after 10 seconds and 7 attempts"),
        (1.0, 1, "after 1 second and 1 attempt"),
        (0.54, 2, "after 0.5 seconds and 2 attempts"),
    ],
)
def test_a_wait_that_ended_says_how_long_how_often_and_why(
    elapsed: float, attempts: int, said: str
) -> None:
    last = ConnectionRefusedError(string="nothing listens")
    error = WaitTimeoutError("vsock://3:5000", elapsed, attempts, last)
    assert isinstance(error, ConnectError)
    assert str(error) == (
        f"gave up connecting to vsock://3:5000 {said}; the last attempt: {last}"
    )
    assert error.__cause__ is last
    assert (error.target, error.elapsed, error.attempts, error.last_error) == (
        "vsock://3:5000",
        elapsed,
        attempts,
        last,
    )


@pytest.mark.parametrize(
    ("error", "base"),
    [
        (VSockUnavailableError("no AF_VSOCK"), OSError),
        (HyperVUnavailableError("no AF_HYPERV"), OSError),
        (HyperVAdminRequiredError("run as Administrator"), PermissionError),
        (VMLookupError("no virsh"), OSError),
        (MissingDependencyError("pip install ...", name="OpenSSL"), ImportError),
    ],
)
def test_each_error_is_caught_as_the_error_it_refines(
    error: Exception, base: type[Exception]
) -> None:
    assert isinstance(error, base)
