"""
What a benchmark process holds: its resident memory and threads, and room
for the thousands of descriptors the concurrent workload opens.
"""

from __future__ import annotations

import resource


def resident_bytes() -> int:
    """This process's resident set size (``VmRSS``), in bytes."""
    return _status_field("VmRSS") * 1024


def _status_field(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {name} line in /proc/self/status")


def allow_many_descriptors() -> None:
    """Raise the soft limit on open descriptors to the hard one."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def thread_count() -> int:
    """How many threads this process has (``Threads`` in its status)."""
    return _status_field("Threads")
