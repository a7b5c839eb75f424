"""
A request/response server over vsock messages: each request is one message,
a JSON object, and gets one reply, another message. No framing: the
connection keeps each message whole (``type=seqpacket``).

    python message_server.py [ENDPOINT]

ENDPOINT defaults to ``vsock:port=5001:type=seqpacket``. ``message_client.py``
is its client.
"""

import json
import sys

from twisted.internet import defer, task
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol

from twisted_hvsock import IMessageTransport


class Adder(Protocol):
    def connectionMade(self):
        if not IMessageTransport.providedBy(self.transport):
            # Over a byte stream a request could arrive in pieces.
            print("refused: this endpoint carries a stream, not messages")
            self.transport.loseConnection()

    def dataReceived(self, message):
        # One whole request, however long, and only that one.
        request = json.loads(message)
        reply = {"id": request["id"], "sum": sum(request["numbers"])}
        self.transport.write(json.dumps(reply).encode())


async def main(reactor, description):
    endpoint = serverFromString(reactor, description)
    port = await endpoint.listen(Factory.forProtocol(Adder))
    print("listening on", port.getHost(), flush=True)
    await defer.Deferred()  # serve until interrupted (Ctrl-C)


description = sys.argv[1] if len(sys.argv) > 1 else "vsock:port=5001:type=seqpacket"
task.react(lambda reactor: defer.ensureDeferred(main(reactor, description)))
