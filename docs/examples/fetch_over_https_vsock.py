"""
Fetch a page over TLS over vsock with treq, checking the server's
certificate:

    python fetch_over_https_vsock.py [URL [SERVER_NAME [CA_FILE]]]

The defaults, ``https+vsock://3:8443/ guest.example guest-ca.pem``, fetch
from port 8443 of the guest with CID 3, which must present a certificate
for ``guest.example`` signed by the certificate authority in
``guest-ca.pem``.
"""

import sys

import treq
from twisted.internet import defer, ssl, task
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from twisted_hvsock.web import vsock_agent


@implementer(IPolicyForHTTPS)
class ExpectServerName:
    """Every server must present a certificate for ``hostname``."""

    def __init__(self, hostname, trust_root):
        self._hostname = hostname
        self._trust_root = trust_root

    def creatorForNetloc(self, hostname, port):
        return ssl.optionsForClientTLS(self._hostname, trustRoot=self._trust_root)


async def main(reactor, url, server_name, ca_file):
    with open(ca_file, "rb") as f:
        ca = ssl.Certificate.loadPEM(f.read())
    agent = vsock_agent(reactor, tls_policy=ExpectServerName(server_name, ca))
    response = await treq.get(url, agent=agent)
    print(response.code, await response.text())


url = sys.argv[1] if len(sys.argv) > 1 else "https+vsock://3:8443/"
server_name = sys.argv[2] if len(sys.argv) > 2 else "guest.example"
ca_file = sys.argv[3] if len(sys.argv) > 3 else "guest-ca.pem"
task.react(
    lambda reactor: defer.ensureDeferred(main(reactor, url, server_name, ca_file))
)
