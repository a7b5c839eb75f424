"""
An echo server over vsock: every line a client sends comes back.

    python echo_server.py [ENDPOINT]

ENDPOINT defaults to ``vsock:port=5000``, port 5000 of every CID this
machine has. ``echo_client.py`` is its client.
"""

import sys

from twisted.internet import defer, task
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver


class Echo(LineReceiver):
    def lineReceived(self, line):
        self.sendLine(line)


async def main(reactor, description):
    endpoint = serverFromString(reactor, description)
    port = await endpoint.listen(Factory.forProtocol(Echo))
    print("listening on", port.getHost(), flush=True)
    await defer.Deferred()  # serve until interrupted (Ctrl-C)


description = sys.argv[1] if len(sys.argv) > 1 else "vsock:port=5000"
task.react(lambda reactor: defer.ensureDeferred(main(reactor, description)))
