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

Each backend module's docstring shows its strings; ``docs/endpoint-strings.rst``
is the reference.
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
