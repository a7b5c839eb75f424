"""
What every VMM-socket listener shares (``GuestConnectionListener``), on a
toy VMM whose socket file is ``<dir>/port-<port>``: no port 0, socket files
owner-only unless told otherwise, and the same server-string options for
each such backend (``listener_grammar``).
"""

from __future__ import annotations

import os
import stat

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol

from twisted_hvsock._guest_listener import GuestConnectionListener, listener_grammar


class ToyListener(GuestConnectionListener):
    vmm = "the toy VMM"

    def socket_path(self, path: str, port: int) -> str:
        return os.path.join(path, f"port-{port}")


def test_port_0_is_refused_naming_the_vmm(sockdir: str) -> None:
    with pytest.raises(
        ValueError, match="port must be given: the toy VMM has no port 0"
    ):
        ToyListener(reactor, sockdir, 0)


def test_its_repr_names_the_socket_file(sockdir: str) -> None:
    assert repr(ToyListener(reactor, sockdir, 7)) == (
        f"<ToyListener {os.path.join(sockdir, 'port-7')!r}>"
    )


@pytest_twisted.ensureDeferred
async def test_the_socket_file_is_owner_only_by_default(sockdir: str, io: str) -> None:
    port = await ToyListener(reactor, sockdir, 7, io=io).listen(
        Factory.forProtocol(Protocol)
    )
    try:
        mode = os.stat(os.path.join(sockdir, "port-7")).st_mode
        assert stat.S_IMODE(mode) == 0o600
    finally:
        await port.stopListening()


def test_the_grammar_takes_the_listener_s_options_and_tls(sockdir: str) -> None:
    grammar = listener_grammar("toy", ToyListener, "<dir>")
    assert grammar.usage.startswith(
        "toy:[path=]<dir>:[port=]<port>[:backlog=<n>][:mode=<octal>][:io="
    )
    built = grammar.build(reactor, [sockdir, "7"], {"mode": "640", "backlog": "5"})
    assert isinstance(built, ToyListener)
    assert (built._mode, built._backlog) == (0o640, 5)
    assert "privateKey" in grammar.accepted
