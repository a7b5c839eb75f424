"""
Registers twisted-hvsock's endpoint-string prefixes with Twisted.

Kept to plain object creation so that Twisted's plugin scan stays cheap and
works on every operating system.
"""

from twisted_hvsock.parsers import (
    HybridVSockClientParser,
    HybridVSockServerParser,
    HyperkitClientParser,
    HyperkitServerParser,
    HyperVClientParser,
    HyperVServerParser,
    VSockClientParser,
    VSockServerParser,
)

vsockServerParser = VSockServerParser()
vsockClientParser = VSockClientParser()
hvsockServerParser = HyperVServerParser()
hvsockClientParser = HyperVClientParser()
hyperkitServerParser = HyperkitServerParser()
hyperkitClientParser = HyperkitClientParser()
hybridVSockServerParser = HybridVSockServerParser()
hybridVSockClientParser = HybridVSockClientParser()
