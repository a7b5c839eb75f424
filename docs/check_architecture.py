"""
Checks that ``docs/architecture.rst`` names every module of the package, so
that the page cannot drift from the code again: run by ``tox -e docs`` and
by the host tier (``tests/test_architecture_page.py``).

A module is named as it is imported below the package, in double back-quotes:
``vsock``, ``_engines.threads.port``, ``cli.cat``; a package by its own name
(``_sockets``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "twisted_hvsock"
PAGE = ROOT / "docs" / "architecture.rst"


def module_names() -> list[str]:
    """Every module of the package, as the page names it."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        names.append(".".join(parts))
    return names


def missing(page: str) -> list[str]:
    """The modules ``page`` does not name."""
    return [name for name in module_names() if f"``{name}``" not in page]


def main() -> int:
    absent = missing(PAGE.read_text(encoding="utf-8"))
    for name in absent:
        print(f"docs/architecture.rst does not name the module {name}", file=sys.stderr)
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())
