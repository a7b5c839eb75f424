"""
``hvsock``'s log lines: words and addresses a user types, not reprs, and
none of Twisted's bookkeeping.
"""

from __future__ import annotations

import io
from pathlib import Path

from twisted.internet import error
from twisted.internet.address import IPv4Address
from twisted.internet.protocol import Factory
from twisted.logger import Logger, LogLevel, LogPublisher
from twisted.python.failure import Failure

from twisted_hvsock.cli.log_output import filtered_observer

from ..support.hvsock_cli import hvsock


def logged(level: LogLevel, emit: object) -> str:
    """What ``emit(logger)`` prints through hvsock's observer at ``level``."""
    out = io.StringIO()
    publisher = LogPublisher(filtered_observer("hvsock test", level, out))
    emit(Logger(namespace="test", observer=publisher))  # type: ignore[operator]
    return out.getvalue()


def test_an_address_in_a_message_reads_as_the_user_types_it() -> None:
    text = logged(
        LogLevel.warn,
        lambda log: log.warn(
            "could not forward {peer}", peer=IPv4Address("TCP", "127.0.0.1", 52166)
        ),
    )
    assert text == "hvsock test: could not forward tcp:127.0.0.1:52166\n"


def test_a_failure_in_a_message_is_worded_like_the_tool_s_errors() -> None:
    text = logged(
        LogLevel.warn,
        lambda log: log.failure(
            "no listener", Failure(error.ConnectionRefusedError()), LogLevel.warn
        ),
    )
    assert text == "hvsock test: no listener: connection was refused by other side\n"


def test_factories_starting_and_stopping_are_left_out() -> None:
    factory = Factory()

    def emit(log: Logger) -> None:
        log.info("Starting factory {factory!r}", factory=factory)
        log.info("Stopping factory {factory!r}", factory=factory)
        log.info("Main loop terminated.")
        log.info("Received SIGTERM, shutting down.")

    assert logged(LogLevel.info, emit) == (
        "hvsock test: Received SIGTERM, shutting down.\n"
    )


def test_twisted_s_own_port_lines_are_left_out() -> None:
    # Twisted's ports log through log.msg, whose events carry finished text.
    out = io.StringIO()
    observer = filtered_observer("hvsock test", LogLevel.info, out)
    for text in [
        "Factory starting on 36891",
        "ForwardingFactory starting on '/tmp/s.sock'",
        "(TCP Port 36891 Closed)",
        "(UNIX Port /tmp/s.sock Closed)",
        "a line of its own",
    ]:
        observer(
            {
                "log_level": LogLevel.info,
                "log_namespace": "log_legacy",
                "log_format": "{log_text}",
                "log_text": text,
                "message": (text,),
            }
        )
    assert out.getvalue() == "hvsock test: a line of its own\n"


def test_verbose_hvsock_prints_no_object_reprs(tmp_path: Path) -> None:
    result = hvsock("-v", "cat", f"unix:{tmp_path}/nobody.sock")
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert "object at 0x" not in stderr
    assert "Main loop terminated" not in stderr
    [line] = stderr.splitlines()
    assert line.startswith(f"hvsock cat: cannot connect to unix:{tmp_path}/nobody.sock")
