"""
The one place that picks an I/O engine, and the one lazy seam of the
package: an engine's module is imported the first time an endpoint uses it,
so that Twisted's plugin scan, which loads every backend's parsers and
endpoints, loads no engine.

- ``"reactor"`` (:mod:`.reactor`): the reactor polls non-blocking sockets,
  as it does TCP's; AF_VSOCK through thin subclasses of Twisted's ``tcp``
  classes, Unix sockets through Twisted's own.
- ``"threads"`` (:mod:`.threads`): blocking sockets, each connection's reads
  and writes on threads of its own, for sockets a reactor cannot poll
  (AF_HYPERV takes only this one).

Both engines offer the same calls (:class:`Engine`): the endpoints ask
:func:`engine` for the one ``_checks.check_io`` chose, and put the allow-list
gate (:func:`gated`) in front of a listener's factory, whichever engine runs
it. The two engines never import each other; both build on ``_sockets``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.interfaces import IListeningPort, IProtocol, IProtocolFactory

from .._checks import IOEngine
from .._sockets.vsock import VSockListening
from .._sockets.vsock_client import VSockTarget
from ..hyperv_ids import HyperVAddress
from ._gate import gated

__all__ = ["Engine", "HyperVEngine", "engine", "gated", "hyperv_engine"]


class Engine(Protocol):
    """What each engine's module offers, with the same signatures."""

    def listen_vsock(
        self, reactor: Any, factory: IProtocolFactory, *, where: VSockListening
    ) -> IListeningPort: ...

    def connect_vsock(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        target: VSockTarget,
        timeout: float,
    ) -> defer.Deferred[IProtocol]: ...

    def listen_unix(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        path: str | bytes,
        backlog: int,
        mode: int | None,
    ) -> IListeningPort: ...

    def connect_unix(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        path: str | bytes,
        timeout: float,
    ) -> defer.Deferred[IProtocol]: ...


def _reactor_engine() -> Engine:
    from . import reactor

    return reactor


def _thread_engine() -> Any:
    # Any: the module is both an Engine and a HyperVEngine.
    from . import threads

    return threads


#: Each engine's name, and how to load it.
_ENGINES: dict[IOEngine, Callable[[], Engine]] = {
    "reactor": _reactor_engine,
    "threads": _thread_engine,
}


def engine(io: IOEngine) -> Engine:
    """The engine ``io`` names, loaded on first use."""
    return _ENGINES[io]()


class HyperVEngine(Protocol):
    """What the thread engine offers for AF_HYPERV, which only it can drive."""

    def listen_hyperv(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        address: HyperVAddress,
        backlog: int,
    ) -> IListeningPort: ...

    def connect_hyperv(
        self,
        reactor: Any,
        factory: IProtocolFactory,
        *,
        address: HyperVAddress,
        timeout: float,
        suspend: bool,
    ) -> defer.Deferred[IProtocol]: ...


def hyperv_engine() -> HyperVEngine:
    """The engine of AF_HYPERV sockets, which Windows cannot poll: threads."""
    hyperv: HyperVEngine = _thread_engine()
    return hyperv
