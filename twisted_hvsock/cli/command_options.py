"""
The base of every ``hvsock`` subcommand's options: help text that keeps the
examples in ``longdesc`` as they are written.
"""

from __future__ import annotations

import os
import sys
import textwrap

import twisted
from twisted.python import usage

import twisted_hvsock


def print_version() -> None:
    """Print twisted-hvsock's version, and Twisted's, labelled."""
    print(
        f"twisted-hvsock {twisted_hvsock.__version__} (Twisted {twisted.__version__})"
    )


class VersionOption:
    """``--version`` that names this package rather than Twisted alone."""

    def opt_version(self) -> None:
        """Display twisted-hvsock's version (and Twisted's) and exit."""
        print_version()
        sys.exit(0)


class CommandOptions(VersionOption, usage.Options):
    """
    ``usage.Options`` with help as users expect it: the synopsis alone on the
    first line, prose paragraphs wrapped, and indented example lines kept.
    """

    synopsis: str = ""
    longdesc: str = ""

    def getSynopsis(self) -> str:
        # usage.Options would put the parent's whole synopsis first.
        return f"Usage: {self.synopsis}"

    def getUsage(self, width: int | None = None) -> str:
        # usage.Options would wrap the long description into one paragraph,
        # running the examples together; wrap each paragraph on its own.
        longdesc, self.longdesc = self.longdesc, ""
        try:
            text: str = super().getUsage(width)
        finally:
            del self.longdesc
        width = width or int(os.environ.get("COLUMNS", "80"))
        paragraphs = []
        for paragraph in longdesc.strip().split("\n\n"):
            if "\n  " in paragraph:
                paragraphs.append(paragraph)
            else:
                paragraphs.append(textwrap.fill(paragraph, width))
        return text + "\n" + "\n\n".join(paragraphs) + "\n"
