"""
What the public API's types promise, checked by mypy (``tox -e mypy``), never
run: each line marked ``type: ignore`` must be an error, or mypy reports the
ignore as unused and the check fails.
"""

from __future__ import annotations

from twisted.internet import reactor
from twisted.internet.testing import MemoryReactorClock

from twisted_hvsock import (
    HybridVSockClientEndpoint,
    HyperkitServerEndpoint,
    HyperVClientEndpoint,
    HyperVServerEndpoint,
    IOEngine,
    ThreadedUNIXClientEndpoint,
    ThreadedUNIXServerEndpoint,
    VSockClientEndpoint,
    VSockServerEndpoint,
)
from twisted_hvsock.hyperv_ids import VM_LOOPBACK

# The global reactor and Twisted's test reactor are both accepted.
VSockServerEndpoint(reactor, 5000)
VSockClientEndpoint(MemoryReactorClock(), 3, 5000, io="threads")
HyperVServerEndpoint(reactor, 5000)
HyperVClientEndpoint(MemoryReactorClock(), VM_LOOPBACK, 5000)
ThreadedUNIXServerEndpoint(reactor, "/run/agent.sock")
ThreadedUNIXClientEndpoint(reactor, "/run/agent.sock")
HyperkitServerEndpoint(reactor, "/tmp/vm", 5000)
HybridVSockClientEndpoint(reactor, "/tmp/v.sock", 5000)

# An engine's name is one of two words, and a typo is caught before it runs.
engine: IOEngine = "reactor"
VSockServerEndpoint(reactor, 5000, io=engine)
VSockServerEndpoint(reactor, 5000, io="thread")  # type: ignore[arg-type]
HyperVServerEndpoint(reactor, 5000, io="treads")  # type: ignore[arg-type]

# A VM by name instead of a CID; who looks it up is one of two words.
VSockClientEndpoint(reactor, None, 5000, vm="web", resolver="machined")
VSockClientEndpoint(reactor, None, 5000, vm="web", resolver="virsh")  # type: ignore[arg-type]

# Something that is not a reactor is refused.
VSockServerEndpoint("reactor", 5000)  # type: ignore[arg-type]
HyperVClientEndpoint(object(), VM_LOOPBACK, 5000)  # type: ignore[arg-type]
ThreadedUNIXServerEndpoint(None, "/run/agent.sock")  # type: ignore[arg-type]
