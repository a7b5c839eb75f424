"""
The client of ``echo_server.py``: sends one line and prints the echo.

    python echo_client.py [ENDPOINT [TEXT]]

ENDPOINT defaults to ``vsock:cid=host:port=5000``: from a guest, the echo
server on its host. From the host, a guest's CID: ``vsock:cid=3:port=5000``.
"""

import sys

from twisted.internet import defer, task
from twisted.internet.endpoints import clientFromString, connectProtocol
from twisted.protocols.basic import LineReceiver


class AskOnce(LineReceiver):
    def __init__(self, text):
        self.text = text
        self.answer = defer.Deferred()

    def connectionMade(self):
        self.sendLine(self.text.encode())

    def lineReceived(self, line):
        self.answer.callback(line.decode())
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if not self.answer.called:  # closed before answering
            self.answer.errback(reason)


async def main(reactor, description, text):
    endpoint = clientFromString(reactor, description)
    protocol = await connectProtocol(endpoint, AskOnce(text))
    print("echoed:", await protocol.answer)


description = sys.argv[1] if len(sys.argv) > 1 else "vsock:cid=host:port=5000"
text = sys.argv[2] if len(sys.argv) > 2 else "hello over vsock"
task.react(lambda reactor: defer.ensureDeferred(main(reactor, description, text)))
