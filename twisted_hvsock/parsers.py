"""
Every endpoint-string parser of the package, in one place: each is declared
in its backend's module, beside the endpoints it builds
(:mod:`twisted_hvsock.vsock`, :mod:`twisted_hvsock.hyperv`,
:mod:`twisted_hvsock.hyperkit`, :mod:`twisted_hvsock.hybrid_vsock`), and
Twisted's plugin system finds them through
``twisted/plugins/twisted_hvsock_endpoints.py``.

Each parser is a declaration of its options (see :mod:`twisted_hvsock._options`):
the usage text, the accepted names, the positional order and the call of the
endpoint's constructor all come from it. Any bad value raises ``ValueError``
naming the option and what it accepts.

``vsock:`` server strings::

    vsock:5000                    listen on port 5000, every CID
    vsock:port=5000:backlog=128
    vsock:port=0                  any free port
    vsock:port=5000:cid=local     only connections to CID 1
    vsock:port=5000:io=threads    blocking I/O on threads of its own
    vsock:port=5000:allow=3,5-9   only peers with CID 3 or 5 to 9
    vsock:systemd=0               the first socket systemd passed (or a name)
    vsock:fd=3                    an inherited listening socket
    vsock:443:privateKey=key.pem:certKey=cert.pem    TLS, as Twisted's ssl:

``vsock:`` client strings::

    vsock:3:5000                  connect to CID 3, port 5000
    vsock:cid=host:port=5000:timeout=5
    vsock:3:5000:io=threads
    vsock:3:443:tls=yes:hostname=web.example:trustRoots=ca.pem

``hvsock:`` server strings (Hyper-V sockets; see ``docs/hyperv.rst``)::

    hvsock:service=5000           the Linux template's service for port 5000
    hvsock:service=3049197c-9a4e-4fbf-9367-97f792f16994:vm=children
    hvsock:service=5000:allow=parent    only the host may connect

``hvsock:`` client strings::

    hvsock:vm=MyVM:service=5000   a VM by name (looked up on the Windows host)
    hvsock:vm=parent:service=5000:timeout=5      from a guest, to the host
    hvsock:vm=1b4e28ba-2fa1-11d2-883f-0016d3cca427:service=5000:suspend=true

``hyperkit:`` strings::

    hyperkit:path=<dir>:port=<p>                 listen (on <dir>/00000002.<p hex>)
    hyperkit:path=<dir>:port=<p>[:cid=3]         connect to guest CID 3 (the default)

``hybridvsock:`` strings (Firecracker, Cloud Hypervisor), the same for both
roles::

    hybridvsock:path=<uds_path>:port=<p>         listen on <uds_path>_<p>, or
                                                 connect through <uds_path>

Every server takes ``backlog`` and ``io``, and the Unix-socket ones ``mode``
(octal permission bits, 600 unless given); every client takes ``timeout``
and ``io``. ``io`` picks the I/O engine, ``reactor`` or ``threads``; see
``docs/io-engines.rst``.
"""

from __future__ import annotations

from ._options import parse_mode
from .hybrid_vsock import HybridVSockClientParser, HybridVSockServerParser
from .hyperkit import HyperkitClientParser, HyperkitServerParser
from .hyperv import HyperVClientParser, HyperVServerParser
from .vsock import VSockClientParser, VSockServerParser

__all__ = [
    "HybridVSockClientParser",
    "HybridVSockServerParser",
    "HyperVClientParser",
    "HyperVServerParser",
    "HyperkitClientParser",
    "HyperkitServerParser",
    "VSockClientParser",
    "VSockServerParser",
    "parse_mode",
]
