"""
Fetch a page over vsock with treq:

    python fetch_over_vsock.py [URL]

URL defaults to ``http+vsock://host:8080/``: from a guest, port 8080 of the
host, where ``twistd -n web --listen vsock:port=8080 --path .`` serves.
"""

import sys

import treq
from twisted.internet import defer, task

from twisted_hvsock.web import vsock_agent


async def main(reactor, url):
    agent = vsock_agent(reactor)
    response = await treq.get(url, agent=agent)
    print(response.code, response.headers.getRawHeaders("content-type"))
    print(await response.text())

    # Everything else treq does works the same: methods, headers, JSON...
    response = await treq.head(url, headers={"Accept": "text/html"}, agent=agent)
    print("HEAD", response.code)


url = sys.argv[1] if len(sys.argv) > 1 else "http+vsock://host:8080/"
task.react(lambda reactor: defer.ensureDeferred(main(reactor, url)))
