"""
``hvsock register``: list a Hyper-V socket service in the Windows host's
registry, as VMs and the host need before they connect to it.
"""

from __future__ import annotations

import sys
from typing import Any

from ..hyperv_ids import parse_service_id
from ..hyperv_services import register_service
from .command_options import CommandOptions


class Options(CommandOptions):
    synopsis = "hvsock register [--name NAME] SERVICE"
    longdesc = """Register SERVICE (a GUID, or a vsock port, which becomes the Linux
template's GUID for that port) in the Windows host's registry, so that the
host and its VMs may connect to it. Needs Administrator rights.

Examples:
  hvsock register --name "My agent" 5000    a Linux guest's vsock port 5000
  hvsock register --name "My service" 3049197c-9a4e-4fbf-9367-97f792f16994
"""
    optParameters = [
        ["name", "n", "twisted-hvsock service", "the service's friendly name"],
    ]

    def parseArgs(self, service: str) -> None:  # type: ignore[override]
        self["service"] = parse_service_id(service)


def run(reactor: Any, options: Options) -> int:
    service_id = register_service(options["service"], options["name"])
    print(f"registered {service_id} as {options['name']!r}", file=sys.stderr)
    return 0
