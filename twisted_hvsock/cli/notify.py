"""
``hvsock notify --listen ADDRESS``: wait for a guest's systemd to say
``READY=1`` over vsock, printing each notify message as it arrives.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.python import usage

from .._options import parse_positive_float
from ..address import parse_cid
from ..notify import MAX_MESSAGE_SIZE, NotifyMessage, NotifyReceiver
from .addresses import listening_endpoint, listening_line
from .command_options import CommandOptions


def _cid(text: str) -> int:
    try:
        return parse_cid(text, allow_any=False, name="--cid")
    except ValueError:
        raise ValueError(
            f"--cid must be one guest's CID, a whole number from 0 to "
            f"4294967294 (or host, local, hypervisor), got {text!r}"
        ) from None


def _timeout(text: str) -> float:
    return parse_positive_float(text, "--timeout")


class Options(CommandOptions):
    synopsis = "hvsock notify --listen ADDRESS [--cid CID] [--timeout SECONDS]"
    longdesc = f"""Listen on ADDRESS for the sd_notify messages a systemd guest sends
when booted with the credential vmm.notify_socket=vsock:2:PORT, print each
one on a line of its own as it arrives ("cid 3: READY=1 STATUS=...", values
quoted as a shell would need), and exit 0 at the first READY=1. With
--timeout, give up after SECONDS and exit 1.

Only senders on a reserved source port (below 1024, as systemd's PID 1
sends from) are heard, unless --any-port; with --cid, only that guest.
Refused senders are logged with -v. Messages that are malformed or longer
than {MAX_MESSAGE_SIZE} bytes are logged and dropped.

ADDRESS is a listening endpoint string or URI: vsock:port=P:type=seqpacket
for the plain vsock:2:P credential (virtio-vsock has no datagrams, so
systemd falls back to seqpacket), vsock:port=P for vsock-stream:2:P.

Examples:
  hvsock notify --listen vsock:port=8888:type=seqpacket --cid 3 --timeout 120
      wait up to 2 minutes for guest 3 to finish booting
  hvsock notify --listen vsock:port=8888 --any-port
      a stream listener that also hears unprivileged senders
"""
    optFlags = [
        [
            "any-port",
            None,
            "hear senders on any source port, not only reserved ones (< 1024)",
        ],
    ]
    optParameters = [
        ["listen", None, None, "the address to listen on (required)"],
        ["cid", None, None, "hear only the guest with this CID", _cid],
        [
            "timeout",
            None,
            None,
            "exit 1 if no READY=1 came within SECONDS",
            _timeout,
        ],
    ]

    def parseArgs(self) -> None:
        """No arguments: the address is --listen's."""

    def postOptions(self) -> None:
        if self["listen"] is None:
            raise usage.UsageError("--listen ADDRESS is required")


def run(reactor: Any, options: Options) -> Deferred[int]:
    return ensureDeferred(_notify(reactor, options))


def _print(message: NotifyMessage) -> None:
    print(message, flush=True)


async def _notify(reactor: Any, options: Options) -> int:
    receiver = NotifyReceiver(
        cid=options["cid"], any_port=bool(options["any-port"]), on_message=_print
    )
    endpoint = listening_endpoint(reactor, options["listen"], "--listen")
    port = await receiver.listen(endpoint)
    print(listening_line(port), file=sys.stderr, flush=True)
    timeout = options["timeout"]
    if timeout is not None:
        receiver.ready.addTimeout(timeout, reactor)
    try:
        await receiver.ready
    except defer.TimeoutError:
        print(
            f"hvsock notify: no READY=1 came within {timeout:g} s",
            file=sys.stderr,
        )
        return 1
    finally:
        await defer.maybeDeferred(port.stopListening)
    return 0
