"""
``hvsock unregister``: remove a Hyper-V socket service from the Windows
host's registry.
"""

from __future__ import annotations

import sys
from typing import Any

from ..hyperv_ids import parse_service_id
from ..hyperv_services import unregister_service
from .command_options import CommandOptions


class Options(CommandOptions):
    synopsis = "hvsock unregister SERVICE"
    longdesc = """Remove SERVICE (a GUID, or a vsock port) from the Windows host's
registry. Needs Administrator rights.

Example:
  hvsock unregister 5000
"""

    def parseArgs(self, service: str) -> None:  # type: ignore[override]
        self["service"] = parse_service_id(service)


def run(reactor: Any, options: Options) -> int:
    service_id = unregister_service(options["service"])
    print(f"unregistered {service_id}", file=sys.stderr)
    return 0
