"""
The test suite. It runs under pytest (see ``docs/testing.rst``): the host
tier with ``pytest -m "not kernel"``, the kernel tier inside the guest VM.

Importing this package installs the host guard first, whatever the runner:
outside the guest no AF_VSOCK socket may connect.
"""

from __future__ import annotations

import sys

from .support import host_guard

host_guard.install()

if "twisted.trial.runner" in sys.modules and "_pytest" not in sys.modules:
    # trial would find the ReactorBuilder classes but none of the pytest
    # tests, and report a pass for modules it ran nothing from.
    raise ImportError(
        "the twisted-hvsock tests run under pytest, not trial: "
        'use `python -m pytest -m "not kernel"` (host tier) or '
        "`python tests/vm/kernel_tier.py` (kernel tier, in the guest VM)"
    )
