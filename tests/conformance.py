"""
What both I/O engines' conformance suites share.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.test.test_tcp import (
    AbortConnectionMixin,
    ServerAbortsThenLoses,
    ServerAbortsTwice,
    WritingButNotAbortingClient,
)


class OrderlyPeerAbortMixin(AbortConnectionMixin):
    """
    Twisted's abort tests, for socket families that cannot signal an abort
    the way TCP's reset does: a vsock close is always an orderly shutdown,
    and a Unix peer sees a reset only if unread data was left behind, which
    these two tests never leave. So where TCP's peer sees ``ConnectionLost``,
    these peers see an orderly end (``ConnectionDone``); everything else is
    Twisted's own check.
    """

    def test_serverAbortsConnectionTwice(self) -> None:
        self.runAbortTest(
            WritingButNotAbortingClient,
            ServerAbortsTwice,
            clientConnectionLostReason=ConnectionDone,
        )

    def test_serverAbortsConnectionThenLosesConnection(self) -> None:
        self.runAbortTest(
            WritingButNotAbortingClient,
            ServerAbortsThenLoses,
            clientConnectionLostReason=ConnectionDone,
        )
