"""
Registers twisted-hvsock's endpoint-string prefixes with Twisted.

Kept to plain object creation so that Twisted's plugin scan stays cheap and
works on every operating system: each parser comes from its backend's
module, which loads no I/O engine until an endpoint is used.
"""

from twisted_hvsock.hybrid_vsock import HybridVSockClientParser, HybridVSockServerParser
from twisted_hvsock.hyperkit import HyperkitClientParser, HyperkitServerParser
from twisted_hvsock.hyperv import HyperVClientParser, HyperVServerParser
from twisted_hvsock.vsock import VSockClientParser, VSockServerParser

vsockServerParser = VSockServerParser()
vsockClientParser = VSockClientParser()
hvsockServerParser = HyperVServerParser()
hvsockClientParser = HyperVClientParser()
hyperkitServerParser = HyperkitServerParser()
hyperkitClientParser = HyperkitClientParser()
hybridVSockServerParser = HybridVSockServerParser()
hybridVSockClientParser = HybridVSockClientParser()
