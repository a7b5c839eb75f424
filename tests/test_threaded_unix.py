"""
The thread engine's Unix-socket endpoints: their interfaces and argument
checks. No socket is connected here; tests/engines/ moves data through them.
"""

from __future__ import annotations

from typing import Any

import pytest
from twisted.internet.interfaces import IStreamClientEndpoint, IStreamServerEndpoint
from twisted.internet.testing import MemoryReactor
from zope.interface.verify import verifyObject

from twisted_hvsock.threaded_unix import (
    ThreadedUNIXClientEndpoint,
    ThreadedUNIXServerEndpoint,
)


def test_threaded_unix_endpoints_provide_twisted_interfaces() -> None:
    reactor = MemoryReactor()
    assert verifyObject(
        IStreamServerEndpoint, ThreadedUNIXServerEndpoint(reactor, "/tmp/x")
    )
    assert verifyObject(
        IStreamClientEndpoint, ThreadedUNIXClientEndpoint(reactor, "/tmp/x")
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda r: ThreadedUNIXServerEndpoint(r, ""), "^path must be"),
        (lambda r: ThreadedUNIXServerEndpoint(r, "/tmp/x", backlog=0), "^backlog"),
        (lambda r: ThreadedUNIXClientEndpoint(r, 7), "^path must be"),
        (lambda r: ThreadedUNIXClientEndpoint(r, "/tmp/x", timeout=0), "^timeout"),
    ],
)
def test_threaded_unix_endpoints_check_their_arguments(
    build: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build(MemoryReactor())
