"""
``hvsock stress``: sizes and the per-connection protocol without sockets,
its options; whole runs over Unix sockets on the host; and the
issue's run over real AF_VSOCK in the guest.
"""

from __future__ import annotations

import fcntl
import functools
import io
import json
import os
import random
import re
import select
import socket
import struct
import subprocess
import termios
import threading
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import error, reactor
from twisted.internet.endpoints import UNIXClientEndpoint, UNIXServerEndpoint
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import StringTransport
from twisted.internet.threads import deferToThread
from twisted.python import usage
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_hvsock.cli import stress
from twisted_hvsock.cli.stress import (
    ClientSettings,
    Options,
    StressClient,
    StressRun,
    parse_size,
)
from twisted_hvsock.cli.stress_results import ConnectionResult
from twisted_hvsock.echo import echo_factory

from ..support.hvsock_cli import HVSOCK, start_listener
from ..support.terminal import drawn_lines

# Sizes and percentiles.


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("0", 0),
        ("10b", 10),
        ("64K", 64 * 1024),
        ("64k", 64 * 1024),
        ("64KB", 64 * 1024),
        ("64KiB", 64 * 1024),
        ("1M", 1024 * 1024),
        ("1mib", 1024 * 1024),
        ("2G", 2 * 1024**3),
        (" 8K ", 8 * 1024),
    ],
)
def test_sizes_take_binary_suffixes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "K", "1.5M", "-1", "1T", "64 K", "1Mx", "iB"])
def test_malformed_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a byte count such as"):
        parse_size(text)


# The per-connection protocol, on a fake transport.


class HalfCloseTransport(StringTransport):
    """A StringTransport that half-closes and, if asked, pushes back."""

    def __init__(self, push_back: bool = False) -> None:
        super().__init__()
        self.push_back = push_back
        self.write_closed = False
        self.writes: list[int] = []

    def write(self, data: bytes) -> None:
        assert not self.write_closed, "wrote after half-closing"
        super().write(data)
        self.writes.append(len(data))
        if self.push_back and self.producer is not None:
            self.producer.pauseProducing()

    def loseWriteConnection(self) -> None:
        self.write_closed = True


def connected_client(
    length: int, chunk: int = 100, seed: int = 1, push_back: bool = False
) -> tuple[StressClient, HalfCloseTransport, list[Any]]:
    protocol = StressClient(length, chunk, random.Random(seed))
    outcomes: list[Any] = []
    protocol.finished.addCallback(outcomes.append)
    transport = HalfCloseTransport(push_back)
    protocol.makeConnection(transport)
    return protocol, transport, outcomes


def echo_back(protocol: StressClient, data: bytes) -> None:
    protocol.dataReceived(data)
    protocol.readConnectionLost()
    protocol.connectionLost(Failure(error.ConnectionDone()))


def test_client_sends_the_length_in_bounded_chunks_then_half_closes() -> None:
    protocol, transport, outcomes = connected_client(5000, chunk=100)
    assert len(transport.value()) == protocol.sent == 5000
    assert max(transport.writes) <= 100
    assert len(set(transport.writes)) > 1, "chunk sizes should vary"
    assert transport.write_closed
    assert transport.producer is None
    assert outcomes == []


def test_an_exact_echo_is_ok_and_closes_after_the_peer_eof() -> None:
    protocol, transport, outcomes = connected_client(5000)
    protocol.dataReceived(transport.value()[:10])
    protocol.dataReceived(transport.value()[10:])
    assert not transport.disconnecting
    protocol.readConnectionLost()
    assert transport.disconnecting
    protocol.connectionLost(Failure(error.ConnectionDone()))
    assert outcomes == [("ok", None)]
    assert protocol.received == 5000


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: bytes([data[0] ^ 1]) + data[1:],
        lambda data: data[:-1],
        lambda data: data + b"x",
        lambda data: b"",
    ],
    ids=["flipped-bit", "short", "long", "nothing"],
)
def test_any_difference_in_the_echo_is_a_mismatch(corrupt: Any) -> None:
    protocol, transport, outcomes = connected_client(3000)
    echo_back(protocol, corrupt(transport.value()))
    assert outcomes == [("MISMATCH", None)]


def test_an_eof_before_everything_is_sent_is_a_mismatch() -> None:
    protocol, transport, outcomes = connected_client(1000, chunk=100, push_back=True)
    echo_back(protocol, transport.value())
    assert transport.producer is None
    assert transport.disconnecting
    assert protocol.sent < 1000
    protocol.resumeProducing()
    assert protocol.sent == len(transport.value())
    assert outcomes == [("MISMATCH", None)]


def test_a_lost_connection_is_an_error_saying_why() -> None:
    protocol, _, outcomes = connected_client(3000)
    protocol.connectionLost(Failure(error.ConnectionLost("reset by peer")))
    [(outcome, why)] = outcomes
    assert outcome == "error"
    assert "reset by peer" in why


def test_an_aborted_connection_is_an_error_with_the_given_reason() -> None:
    protocol, transport, outcomes = connected_client(3000)
    protocol.abort("timed out after 1 s")
    assert transport.disconnecting
    protocol.connectionLost(Failure(error.ConnectionAborted()))
    assert outcomes == [("error", "timed out after 1 s")]


def test_zero_length_half_closes_at_once_and_an_empty_echo_is_ok() -> None:
    protocol, transport, outcomes = connected_client(0)
    assert transport.value() == b""
    assert transport.write_closed
    echo_back(protocol, b"")
    assert outcomes == [("ok", None)]


def test_client_writes_only_while_the_transport_wants_more() -> None:
    protocol, transport, outcomes = connected_client(1000, chunk=100, push_back=True)
    assert len(transport.writes) == 1
    assert not transport.write_closed
    while not transport.write_closed:
        writes = len(transport.writes)
        protocol.resumeProducing()
        assert len(transport.writes) == writes + 1
    assert protocol.sent == len(transport.value()) == 1000
    echo_back(protocol, transport.value())
    assert outcomes == [("ok", None)]


def test_client_stops_writing_once_stopped() -> None:
    protocol, transport, _ = connected_client(1000, chunk=100, push_back=True)
    protocol.stopProducing()
    protocol.resumeProducing()
    assert len(transport.writes) == 1
    assert not transport.write_closed


def test_the_same_seed_sends_the_same_bytes() -> None:
    first = connected_client(5000, seed=9)[1]
    second = connected_client(5000, seed=9)[1]
    other = connected_client(5000, seed=10)[1]
    assert first.value() == second.value() != other.value()
    assert first.writes == second.writes


# Options.


def parse(*argv: str) -> Options:
    options = Options()
    options.parseOptions(list(argv))
    return options


def test_client_defaults() -> None:
    options = parse("-c", "vsock://3:5000")
    assert options.address == "vsock://3:5000"
    assert options.settings == ClientSettings(
        connections=100, parallel=10, max_length=65536, max_chunk=4096
    )


def test_client_options_are_converted() -> None:
    options = parse(
        *("-c", "unix:/s", "-i", "1000", "-p", "50", "-n", "1M", "-b", "512"),
        *("--seed", "0", "-t", "2.5", "-v", "--json"),
    )
    assert options.settings == ClientSettings(
        connections=1000,
        parallel=50,
        max_length=1024 * 1024,
        max_chunk=512,
        seed=0,
        timeout=2.5,
        verbose=True,
        json=True,
    )


def test_server_has_no_client_settings() -> None:
    options = parse("-s", "vsock:port=5000")
    assert (options.address, options.settings) == ("vsock:port=5000", None)


def test_verbose_means_the_same_for_the_server_and_the_client() -> None:
    # -v logs what is going on, as before any command; the client also
    # prints a line for each connection.
    assert parse("-s", "vsock:port=5000", "-v")["verbose"]
    options = parse("-c", "vsock://3:5000", "-v")
    assert options.settings is not None and options.settings.verbose


BAD_ARGUMENTS = [
    ((), "give exactly one of -s ADDRESS and -c ADDRESS"),
    (("-s", "unix:/a", "-c", "unix:/b"), "give exactly one of"),
    (("-c", "unix:/a", "-i", "0"), "-i/--connections must be positive, got '0'"),
    (("-c", "unix:/a", "-p", "-3"), "-p/--parallel must be positive"),
    (("-c", "unix:/a", "-i", "many"), "-i/--connections: expected a whole number"),
    (("-c", "unix:/a", "-n", "1X"), "-n/--length: expected a byte count"),
    (("-c", "unix:/a", "-l", "1M"), "-l is now -n/--length"),
    (("-c", "unix:/a", "-b", "0K"), "-b/--chunk must be positive"),
    (("-c", "unix:/a", "-t", "0"), "-t/--timeout must be positive"),
    (("-c", "unix:/a", "-t", "nan"), "-t/--timeout: expected a finite number"),
    (("-c", "unix:/a", "--seed", "x"), "--seed: expected a whole number"),
    (("-s", "unix:/a", "-i", "5"), "-i/--connections applies only to the client"),
    (("-s", "unix:/a", "--json"), "--json applies only to the client"),
    (("-c", "unix:/a", "extra"), "unexpected argument 'extra'"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_usage_errors(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(usage.UsageError) as raised:
        parse(*argv)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("argv", "message"), [BAD_ARGUMENTS[0], BAD_ARGUMENTS[2], BAD_ARGUMENTS[5]]
)
def test_bad_arguments_print_one_line_and_exit_2(
    argv: tuple[str, ...], message: str
) -> None:
    result = subprocess.run(
        [*HVSOCK, "stress", *argv], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first.startswith("hvsock stress: ")
    assert message in first
    assert rest == ["Run 'hvsock stress --help' for usage."]


def test_help_keeps_the_examples_on_their_own_lines() -> None:
    text = Options().getUsage(width=80)
    assert text.startswith("Options:\n")
    assert "  hvsock stress -s vsock:port=5000\n" in text
    assert "  hvsock stress -c vsock:cid=3:port=5000 -i 1000 -p 50 -n 1M\n" in text
    assert "  hvsock stress -c vsock://3:5000 --json\n" in text
    assert "10^6 bytes" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert Options().getSynopsis() == (
        "Usage: hvsock stress (-s ADDRESS | -c ADDRESS) [OPTIONS]"
    )


# Whole runs over Unix sockets.


@implementer(IHalfCloseableProtocol)
class FlipFirstByte(Protocol):
    """Echoes, except that the first byte comes back with a bit flipped."""

    flipped = False

    def dataReceived(self, data: bytes) -> None:
        if not self.flipped:
            self.flipped = True
            data = bytes([data[0] ^ 1]) + data[1:]
        self.transport.write(data)  # type: ignore[union-attr]

    def readConnectionLost(self) -> None:
        self.transport.loseConnection()  # type: ignore[union-attr]

    def writeConnectionLost(self) -> None:
        pass


@implementer(IHalfCloseableProtocol)
class NeverAnswers(Protocol):
    """Reads everything and never closes."""

    def readConnectionLost(self) -> None:
        pass

    def writeConnectionLost(self) -> None:
        pass


async def unix_listener(factory: Factory, path: Path) -> Any:
    return await UNIXServerEndpoint(reactor, str(path)).listen(factory)


def expected_bytes(seed: int, connections: int, max_length: int) -> int:
    """What a run sends: each connection draws its length first."""
    return sum(
        random.Random(f"{seed}:{index}").randint(0, max_length)
        for index in range(1, connections + 1)
    )


@pytest_twisted.ensureDeferred
async def test_run_over_unix_sockets_gets_everything_back(tmp_path: Path) -> None:
    port = await unix_listener(echo_factory(), tmp_path / "s.sock")
    reported: list[ConnectionResult] = []
    try:
        run = StressRun(
            reactor,
            UNIXClientEndpoint(reactor, str(tmp_path / "s.sock")),
            connections=30,
            parallel=4,
            max_length=200_000,
            max_chunk=8192,
            seed=5,
            report=reported.append,
        )
        summary = await run.run()
    finally:
        await port.stopListening()
    assert (summary.connections, summary.ok, summary.parallel) == (30, 30, 4)
    assert summary.bytes_sent == summary.bytes_received
    assert summary.bytes_sent == expected_bytes(5, 30, 200_000)
    assert sorted(r.index for r in reported) == list(range(1, 31))
    assert run.status() == (30, 2 * summary.bytes_sent)


@pytest_twisted.ensureDeferred
async def test_json_output_is_the_only_thing_on_stdout(tmp_path: Path) -> None:
    port = await unix_listener(echo_factory(), tmp_path / "s.sock")
    out, err = io.StringIO(), io.StringIO()
    settings = ClientSettings(
        connections=6, parallel=3, seed=1, json=True, verbose=True
    )
    try:
        status = await stress.stress(
            reactor, f"unix:{tmp_path / 's.sock'}", settings, out, err
        )
    finally:
        await port.stopListening()
    assert status == 0
    [line] = out.getvalue().splitlines()
    summary = json.loads(line)
    assert (summary["connections"], summary["errors"], summary["seed"]) == (6, 0, 1)
    assert len(err.getvalue().splitlines()) == 6
    assert "\r" not in err.getvalue(), "no progress bar when stderr is no terminal"


@pytest_twisted.ensureDeferred
async def test_a_connection_that_takes_too_long_is_an_error(tmp_path: Path) -> None:
    port = await unix_listener(Factory.forProtocol(NeverAnswers), tmp_path / "s.sock")
    try:
        summary = await StressRun(
            reactor,
            UNIXClientEndpoint(reactor, str(tmp_path / "s.sock")),
            connections=3,
            parallel=3,
            max_length=1000,
            max_chunk=100,
            seed=0,
            timeout=0.2,
        ).run()
    finally:
        await port.stopListening()
    assert summary.errors == 3
    assert summary.first_error == "timed out after 0.2 s"


@pytest_twisted.ensureDeferred
async def test_connections_that_fail_are_counted_with_the_first_reason(
    tmp_path: Path,
) -> None:
    out = io.StringIO()
    settings = ClientSettings(connections=4, parallel=2, seed=0)
    status = await stress.stress(
        reactor, f"unix:{tmp_path / 'nobody.sock'}", settings, out, io.StringIO()
    )
    assert status == 1
    assert "0 ok, 0 mismatches, 4 errors" in out.getvalue()
    assert "first error: " in out.getvalue()


def start_server(address: str) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``hvsock stress -s address``; return it and where it listens."""
    return start_listener("stress", "-s", address, stdout=subprocess.DEVNULL)


def stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    server.communicate(timeout=60)


def test_client_and_server_commands_over_a_unix_socket(tmp_path: Path) -> None:
    server, where = start_server(f"unix:{tmp_path / 's.sock'}")
    try:
        assert where == f"unix:{tmp_path / 's.sock'}"
        client = subprocess.run(
            [*HVSOCK, "stress", "-c", where, "-i", "20", "-p", "5", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop(server)
    assert client.returncode == 0, client.stderr
    [line] = client.stdout.splitlines()
    summary = json.loads(line)
    assert summary["connections"] == 20
    assert summary["parallel"] == 5
    assert (summary["ok"], summary["mismatches"], summary["errors"]) == (20, 0, 0)
    assert summary["first_error"] is None
    assert summary["bytes_sent"] == expected_bytes(summary["seed"], 20, 64 * 1024)
    assert summary["bytes_received"] == summary["bytes_sent"]
    assert summary["bytes_total"] == 2 * summary["bytes_sent"]
    assert summary["mb_per_s"] > 0
    assert 0 < summary["p50_ms"] <= summary["p99_ms"]


@pytest_twisted.ensureDeferred
async def test_a_server_that_corrupts_data_makes_the_client_fail(
    tmp_path: Path,
) -> None:
    port = await unix_listener(Factory.forProtocol(FlipFirstByte), tmp_path / "s.sock")
    argv = ["-c", f"unix:{tmp_path / 's.sock'}", "-i", "5", "-p", "2", "-n", "4K"]
    try:
        plain, as_json = [
            await deferToThread(
                subprocess.run,
                [*HVSOCK, "stress", *argv, "--seed", "3", "-v", *extra],
                capture_output=True,
                text=True,
                timeout=120,
            )
            for extra in ([], ["--json"])
        ]
    finally:
        await port.stopListening()
    assert plain.returncode == as_json.returncode == 1
    assert "Traceback" not in plain.stderr + as_json.stderr
    assert re.search(r"^connection \d+: .* MISMATCH$", plain.stdout, re.MULTILINE)
    assert ", 0 ok, 5 mismatches, 0 errors" in plain.stdout
    summary = json.loads(as_json.stdout)
    assert (summary["mismatches"], summary["errors"]) == (5, 0)
    assert as_json.stderr.count("MISMATCH") == 5


# The whole command on a terminal: a pseudo-terminal 60 columns wide that
# narrows to 40 during the run.


class HeldEchoServer:
    """
    Echoes each Unix-socket connection, one at a time, but only once
    ``release`` is set: until then the client's run cannot end.
    """

    def __init__(self, path: Path) -> None:
        self.release = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            with connection:
                self.release.wait(timeout=120)
                data = b"".join(iter(functools.partial(connection.recv, 65536), b""))
                connection.sendall(data)

    def close(self) -> None:
        self.release.set()
        self.listener.close()


def set_columns(fd: int, columns: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))


def read_until(fd: int, wanted: bytes | None) -> bytes:
    """Read the terminal until ``wanted`` shows, or (``None``) until it closes."""
    out = b""
    while wanted is None or wanted not in out:
        ready, _, _ = select.select([fd], [], [], 120)
        assert ready, f"nothing more after {out!r}"
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            chunk = b""
        if not chunk:
            assert wanted is None, f"{wanted!r} never came: {out!r}"
            return out
        out += chunk
    return out


def test_progress_and_lines_fit_a_terminal_that_narrows_mid_run(
    tmp_path: Path,
) -> None:
    server = HeldEchoServer(tmp_path / "s.sock")
    terminal, child_side = os.openpty()
    set_columns(child_side, 60)
    argv = ["-c", f"unix:{tmp_path / 's.sock'}", "-i", "3", "-p", "1", "-n", "1K"]
    try:
        client = subprocess.Popen(
            [*HVSOCK, "stress", *argv, "-v"],
            stdin=child_side,
            stdout=child_side,
            stderr=child_side,
            start_new_session=True,
        )
        os.close(child_side)
        # The first connection is held: the bar is drawn at 60 columns.
        at_60 = read_until(terminal, b"0/3").decode()
        set_columns(terminal, 40)
        server.release.set()
        rest = read_until(terminal, None).decode()
        assert client.wait(timeout=120) == 0
    finally:
        server.close()
        os.close(terminal)
    wide = drawn_lines(at_60)
    assert all(len(line) <= 59 for line in wide), wide
    bar = re.match(r"\[(-+)\] 0/3, ", wide[-1])
    assert bar and len(bar[1]) >= 10, wide[-1]
    # Everything after the first connection ends comes after the resize:
    # the per-connection lines, the last redraw and the summary.
    after = drawn_lines(rest[rest.index("connection 1:") :])
    assert all(len(line) <= 39 for line in after), after
    assert any(re.fullmatch(r"\[#+\] 3/3, 00:00 left", line) for line in after)
    assert any(line.startswith("connections: 3 (1 at a time)") for line in after)
    assert any(line.startswith("seed:") for line in after)


# Kernel tier: real AF_VSOCK through vsock_loopback (CID 1).


@pytest.mark.kernel
def test_fifty_vsock_connections_ten_at_a_time_all_come_back_intact() -> None:
    server, where = start_server("vsock:port=0")
    try:
        match = re.fullmatch(r"vsock://any:(\d+)", where)
        assert match, where
        argv = ["-c", f"vsock://1:{match[1]}", "-i", "50", "-p", "10", "--json"]
        client = subprocess.run(
            [*HVSOCK, "stress", *argv],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        stop(server)
    assert client.returncode == 0, client.stderr
    summary = json.loads(client.stdout)
    assert (summary["connections"], summary["parallel"]) == (50, 10)
    assert (summary["ok"], summary["mismatches"], summary["errors"]) == (50, 0, 0)
    assert summary["bytes_sent"] == expected_bytes(summary["seed"], 50, 64 * 1024)
    assert summary["bytes_received"] == summary["bytes_sent"]
