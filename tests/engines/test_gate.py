"""
The allow-list gate both engines' listeners accept through (``_engines._gate``):
it refuses a peer before the wrapped factory builds anything, logs it once and
counts it; everything else reaches the wrapped factory unchanged.
"""

from __future__ import annotations

from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.logger import LogEvent, globalLogPublisher

from twisted_hvsock._engines import gated
from twisted_hvsock._engines._gate import PeerGate, refused_by
from twisted_hvsock._engines.reactor import VSockPort
from twisted_hvsock.address import CID_ANY, VSockAddress
from twisted_hvsock.allow import parse_cid_allow


class Counting(Factory):
    protocol = Protocol

    def __init__(self) -> None:
        self.started = self.stopped = self.built = 0

    def doStart(self) -> None:
        self.started += 1

    def doStop(self) -> None:
        self.stopped += 1

    def buildProtocol(self, addr: object) -> Protocol:
        self.built += 1
        return Protocol()


def test_no_list_means_no_gate() -> None:
    factory = Counting()
    assert gated(factory, None) is factory
    assert refused_by(factory) == 0


def test_the_gate_refuses_logs_and_counts_only_unlisted_peers() -> None:
    factory = Counting()
    gate = gated(factory, parse_cid_allow("3,5-9"))
    assert isinstance(gate, PeerGate)
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    try:
        assert gate.buildProtocol(VSockAddress(4, 1030)) is None
        assert isinstance(gate.buildProtocol(VSockAddress(7, 1031)), Protocol)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert (factory.built, refused_by(gate)) == (1, 1)
    refusals = [e for e in events if "refused a connection" in e.get("log_format", "")]
    assert [e["peer"] for e in refusals] == [VSockAddress(4, 1030)]


def test_the_gate_passes_start_and_stop_through_and_logs_as_its_factory() -> None:
    factory = Counting()
    gate = gated(factory, parse_cid_allow("3"))
    gate.doStart()
    gate.doStop()
    assert (factory.started, factory.stopped) == (1, 1)
    assert gate.logPrefix() == "Counting"  # type: ignore[attr-defined]  # the factory's


def test_a_port_reports_what_its_gate_refused() -> None:
    gate = gated(Counting(), parse_cid_allow("3"))
    port = VSockPort(0, gate, CID_ANY, 5, MemoryReactor())
    gate.buildProtocol(VSockAddress(9, 1))
    assert port.refused == 1


def test_privileged_yes_lets_only_reserved_source_ports_through() -> None:
    factory = Counting()
    gate = gated(factory, None, privileged=True)
    events: list[LogEvent] = []
    globalLogPublisher.addObserver(events.append)
    try:
        assert isinstance(gate.buildProtocol(VSockAddress(3, 1023)), Protocol)
        assert gate.buildProtocol(VSockAddress(3, 1024)) is None
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert (factory.built, refused_by(gate)) == (1, 1)
    [refusal] = [e for e in events if "refused a connection" in e.get("log_format", "")]
    assert refusal["why"] == "not from a reserved port (privileged=yes)"


def test_with_an_allow_list_too_a_peer_must_pass_both() -> None:
    factory = Counting()
    gate = gated(factory, parse_cid_allow("3"), privileged=True)
    assert isinstance(gate.buildProtocol(VSockAddress(3, 700)), Protocol)
    assert gate.buildProtocol(VSockAddress(4, 700)) is None  # wrong CID
    assert gate.buildProtocol(VSockAddress(3, 40000)) is None  # unreserved port
    assert (factory.built, refused_by(gate)) == (1, 2)
