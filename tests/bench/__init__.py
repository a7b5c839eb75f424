"""
The benchmark suite: both I/O engines against raw blocking sockets, asyncio
and socat, over AF_VSOCK loopback in the guest and AF_UNIX on the host.

``tox -e bench`` runs it and regenerates ``docs/performance/``; see
``docs/performance.rst`` for how to read the numbers.
"""
