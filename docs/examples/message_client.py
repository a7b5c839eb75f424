"""
The client of ``message_server.py``: sends three requests at once, each
one message, and prints each reply as it comes.

    python message_client.py [ENDPOINT]

ENDPOINT defaults to ``vsock:cid=host:port=5001:type=seqpacket``: from a
guest, the server on its host.
"""

import json
import sys

from twisted.internet import defer, task
from twisted.internet.endpoints import clientFromString, connectProtocol
from twisted.internet.protocol import Protocol

REQUESTS = [[1, 2, 3], list(range(10_000)), [-5, 5]]


class Ask(Protocol):
    def __init__(self):
        self.replies = {}
        self.done = defer.Deferred()

    def connectionMade(self):
        # Three writes back to back: three messages, never run together.
        for number, numbers in enumerate(REQUESTS):
            request = {"id": number, "numbers": numbers}
            self.transport.write(json.dumps(request).encode())

    def dataReceived(self, message):
        reply = json.loads(message)  # one whole reply
        self.replies[reply["id"]] = reply["sum"]
        if len(self.replies) == len(REQUESTS):
            self.transport.loseConnection()
            self.done.callback(self.replies)

    def connectionLost(self, reason):
        if not self.done.called:  # closed before every reply came
            self.done.errback(reason)


async def main(reactor, description):
    endpoint = clientFromString(reactor, description)
    protocol = await connectProtocol(endpoint, Ask())
    replies = await protocol.done
    for number in sorted(replies):
        print(f"request {number}: sum {replies[number]}")


description = (
    sys.argv[1] if len(sys.argv) > 1 else "vsock:cid=host:port=5001:type=seqpacket"
)
task.react(lambda reactor: defer.ensureDeferred(main(reactor, description)))
