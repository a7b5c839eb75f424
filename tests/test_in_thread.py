"""
VM lookups run in the reactor's thread pool, never on the reactor thread, and
a listener's allow list reaches it with its names resolved.
"""

from __future__ import annotations

import threading

import pytest
import pytest_twisted
from twisted.internet import reactor

from twisted_hvsock._in_thread import in_thread, names_resolved
from twisted_hvsock.allow import PeerAllowList


@pytest_twisted.ensureDeferred
async def test_a_blocking_call_runs_off_the_reactor_thread() -> None:
    reactor_thread = threading.current_thread()

    def which_thread(label: str, *, suffix: str) -> tuple[str, threading.Thread]:
        return label + suffix, threading.current_thread()

    label, ran_in = await in_thread(reactor, which_thread, "cid", suffix="=3")

    assert label == "cid=3"
    assert ran_in is not reactor_thread


@pytest_twisted.ensureDeferred
async def test_a_failing_lookup_fails_the_deferred() -> None:
    def unknown() -> int:
        raise ValueError("vm: no VM named 'web'")

    with pytest.raises(ValueError, match="no VM named 'web'"):
        await in_thread(reactor, unknown)


@pytest_twisted.ensureDeferred
async def test_an_allow_list_without_names_is_not_looked_up() -> None:
    allow = PeerAllowList(cid_ranges=((3, 3),))

    def must_not_run(_: PeerAllowList) -> PeerAllowList:
        raise AssertionError("resolved a list that names no VM")

    assert await names_resolved(reactor, allow, must_not_run) is allow
    assert await names_resolved(reactor, None, must_not_run) is None


@pytest_twisted.ensureDeferred
async def test_names_are_resolved_in_a_thread() -> None:
    allow = PeerAllowList(cid_ranges=((3, 3),), vm_names=frozenset({"web"}))
    reactor_thread = threading.current_thread()
    threads_seen: list[threading.Thread] = []

    def resolve(names: PeerAllowList) -> PeerAllowList:
        threads_seen.append(threading.current_thread())
        return names.resolved_cids({"web": 7}.__getitem__)

    resolved = await names_resolved(reactor, allow, resolve)

    assert resolved == PeerAllowList(cid_ranges=((3, 3), (7, 7)))
    assert threads_seen and threads_seen[0] is not reactor_thread
