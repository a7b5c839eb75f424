"""
Blocking lookups, run off the reactor thread.

Looking up a VM by name runs a command (``virsh``, ``machinectl``,
PowerShell) that can take seconds; endpoints run such lookups in the
reactor's thread pool so the reactor keeps serving other connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar, cast

from twisted.internet import defer, threads
from twisted.internet.interfaces import IReactorThreads

from .allow import PeerAllowList

_P = ParamSpec("_P")
_T = TypeVar("_T")


def in_thread(
    reactor: object,
    blocking: Callable[_P, _T],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> defer.Deferred[_T]:
    """
    Call ``blocking(*args, **kwargs)`` in ``reactor``'s thread pool.

    :param reactor: any reactor: every reactor runs threads, though the
        type Twisted's global reactor promises is only ``IReactorCore``.
    :return: a Deferred firing, in the reactor thread, with what it returns
        or fails with.
    """
    threaded = cast(IReactorThreads, reactor)
    return threads.deferToThreadPool(
        threaded, threaded.getThreadPool(), blocking, *args, **kwargs
    )


def names_resolved(
    reactor: object,
    allow: PeerAllowList | None,
    resolve: Callable[[PeerAllowList], PeerAllowList],
) -> defer.Deferred[PeerAllowList | None]:
    """
    ``allow`` with its VM names resolved by ``resolve``, in a thread.

    :return: a Deferred firing with ``allow`` itself, at once, when it
        names no VM; otherwise with what ``resolve(allow)`` returns.
    """
    if allow is None or not allow.vm_names:
        return defer.succeed(allow)
    resolving: defer.Deferred[PeerAllowList | None] = in_thread(reactor, resolve, allow)
    return resolving
