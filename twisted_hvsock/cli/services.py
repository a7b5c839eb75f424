"""
``hvsock services``: list the Hyper-V socket services registered on the
Windows host.
"""

from __future__ import annotations

from typing import Any

from ..hyperv_ids import port_for_service_id
from ..hyperv_services import registered_services
from .command_options import CommandOptions


class Options(CommandOptions):
    synopsis = "hvsock services"
    longdesc = """List the services registered in the Windows host's registry: service
ID, the vsock port it stands for (when it follows the Linux template), and
its friendly name.
"""


def _port(service_id: Any) -> str:
    try:
        return str(port_for_service_id(service_id))
    except ValueError:
        return "-"


def run(reactor: Any, options: Options) -> int:
    services = registered_services()
    print(f"{'SERVICE':36}  {'PORT':>10}  NAME")
    for service in services:
        print(f"{service.service_id}  {_port(service.service_id):>10}  {service.name}")
    return 0
