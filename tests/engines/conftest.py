"""
The families every engine test can run over, as fixtures: ``family`` (the
thread engine over each family) and ``either_engine`` (those, and AF_VSOCK on
the reactor-native engine too).
"""

from __future__ import annotations

import pytest
from twisted.internet.address import UNIXAddress

from twisted_hvsock.address import VSockAddress
from twisted_hvsock.hyperv_ids import HyperVAddress

from ..support.families import Family, installed


@pytest.fixture(
    params=[
        pytest.param(Family("unix", UNIXAddress), id="unix"),
        pytest.param(Family("hyperv", HyperVAddress), id="hyperv"),
        pytest.param(
            Family("vsock", VSockAddress), id="vsock", marks=pytest.mark.kernel
        ),
    ]
)
def family(request: pytest.FixtureRequest) -> Family:
    return installed(request)


@pytest.fixture(
    params=[
        pytest.param(Family("unix", UNIXAddress), id="unix-threads"),
        pytest.param(Family("hyperv", HyperVAddress), id="hyperv-threads"),
        pytest.param(
            Family("vsock", VSockAddress), id="vsock-threads", marks=pytest.mark.kernel
        ),
        pytest.param(
            Family("vsock", VSockAddress, io="reactor"),
            id="vsock-reactor",
            marks=pytest.mark.kernel,
        ),
    ]
)
def either_engine(request: pytest.FixtureRequest) -> Family:
    """The families above, and vsock on the reactor-native engine too."""
    return installed(request)
