"""
Registers ``twistd hvsock-forward``; the service module loads only when used.
"""

from twisted.application.service import ServiceMaker

hvsockForward = ServiceMaker(
    "hvsock-forward",
    "twisted_hvsock.forward_tap",
    "Relay connections between endpoints (vsock, TCP, Unix, ...)",
    "hvsock-forward",
)
