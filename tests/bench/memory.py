"""
What a benchmark process holds: its resident memory, and room for the
thousands of descriptors the concurrent workload opens.
"""

from __future__ import annotations

import resource


def resident_bytes() -> int:
    """This process's resident set size (``VmRSS``), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def allow_many_descriptors() -> None:
    """Raise the soft limit on open descriptors to the hard one."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
