"""
Checks on the built HTML that Sphinx's own warnings do not catch: run by
``tox -e docs`` after the build.

A type in a signature must read as its name (a link to Twisted's reference
where it is Twisted's), never as an object's ``repr`` or as ``Any``.
"""

from __future__ import annotations

import sys
from pathlib import Path

BUILT = Path(__file__).resolve().parent / "_build" / "html"
#: What a type never looks like in the rendered API reference.
UNREADABLE = (
    "&lt;InterfaceClass",
    "reactor</strong> (<em>Any",
    "reactor</strong> (Any",
)


def main() -> int:
    api = (BUILT / "api.html").read_text(encoding="utf-8")
    problems = [text for text in UNREADABLE if text in api]
    if "https://docs.twisted.org/" not in api:
        problems.append("no link to Twisted's API reference")
    for problem in problems:
        print(f"docs/_build/html/api.html: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
