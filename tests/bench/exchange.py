"""
What the two ends of every contender agree on, so that each workload ends
the same way whoever implements it (``peer.c`` follows the same rules):

bulk
    The client sends ``bulk_bytes`` and shuts down its writing side; the
    server reads to end of file and acknowledges with the count it received,
    as 8 bytes big-endian. The client's clock runs from its first byte to
    that acknowledgement.
ping-pong
    The server echoes; the client's clock runs from its first message to the
    last echo.
connect-close
    The server accepts each connection and closes it; the client waits for
    that end of file, then closes. The clock runs from the first connect to
    the last close.
seqpacket-ping-pong
    ping-pong over ``SOCK_SEQPACKET`` (AF_VSOCK only): the server echoes each
    message as one message, and the server counts ``messages`` too.
concurrent-echo
    The client opens the connections; once the server holds all of them
    open (and has measured itself) it writes :data:`GO` on each; the client
    then sends ``echo_bytes`` on each and waits for the echoes. The clock
    runs from the first connect to the last echo.

A server reports, as one JSON object, what it counted: ``connections``,
``bytes`` and, for concurrent-echo, its resident memory and thread count
before the first connection and with all of them open and idle.
"""

from __future__ import annotations

import struct

from .sizes import Sizes

#: The byte a concurrent-echo server writes on each connection once all are open.
GO = b"g"
ACK = struct.Struct(">Q")
#: How much one ``recv`` asks for; asyncio's socket transports read as much.
RECV_SIZE = 256 * 1024
#: Connects in flight at once, for the clients that open connections
#: asynchronously, as a listen backlog allows.
CONNECTS_IN_FLIGHT = 64

#: Contenders that hold a thread (or more) per connection, which open fewer
#: concurrent connections.
THREADED = frozenset({"raw", "threads"})


def ack(count: int) -> bytes:
    """The bulk server's acknowledgement of ``count`` bytes."""
    return ACK.pack(count)


def acknowledged(data: bytes) -> int:
    """The count in a bulk acknowledgement."""
    count: int = ACK.unpack(data)[0]
    return count


def concurrent_count(contender: str, sizes: Sizes) -> int:
    """How many connections ``contender`` holds open in concurrent-echo."""
    if contender in THREADED:
        return sizes.concurrent_threads
    return sizes.concurrent_native


def expected_server_counts(
    workload: str, contender: str, sizes: Sizes
) -> dict[str, int]:
    """What a server must report having counted, for the workload to count."""
    if workload == "bulk":
        return {"connections": 1, "bytes": sizes.bulk_bytes}
    if workload == "ping-pong":
        return {"connections": 1, "bytes": sizes.round_trips * sizes.message}
    if workload == "seqpacket-ping-pong":
        return {
            "connections": 1,
            "bytes": sizes.round_trips * sizes.message,
            "messages": sizes.round_trips,
        }
    if workload == "connect-close":
        return {"connections": sizes.connections, "bytes": 0}
    if workload == "concurrent-echo":
        count = concurrent_count(contender, sizes)
        return {"connections": count, "bytes": count * sizes.echo_bytes}
    raise ValueError(
        "workload must be bulk, ping-pong, seqpacket-ping-pong, connect-close "
        f"or concurrent-echo, got {workload!r}"
    )


def check_counts(what: str, got: int, expected: int) -> None:
    """
    :raises CountError: unless ``got == expected``.
    """
    if got != expected:
        raise CountError(f"{what}: got {got}, expected {expected}")


class CountError(Exception):
    """A benchmark moved other than the bytes or connections it should have."""
