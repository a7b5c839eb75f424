"""
The base of every ``hvsock`` subcommand's options: help text that keeps the
examples in ``longdesc`` as they are written, ``-q``/``-v`` after the command
as well as before it, and a wrong number of arguments that says what was
expected.
"""

from __future__ import annotations

import getopt
import inspect
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


#: What twisted.python.usage says when parseArgs takes other arguments.
_WRONG_NUMBER = "Wrong number of arguments."


def _count(names: list[str]) -> str:
    if not names:
        return "no arguments"
    if len(names) == 1:
        return f"one argument, {names[0]}"
    return f"{len(names)} arguments, {', '.join(names[:-1])} and {names[-1]}"


class CommandOptions(VersionOption, usage.Options):
    """
    ``usage.Options`` with help as users expect it: the synopsis alone on the
    first line, prose paragraphs wrapped, and indented example lines kept.

    ``-q`` and ``-v`` mean what they mean before the command (``hvsock -v
    cat`` is ``hvsock cat -v``); given before it, they are seen here too.
    """

    synopsis: str = ""
    longdesc: str = ""
    #: Options that were renamed: the old spelling -> the new one.
    renamed: dict[str, str] = {}

    def __init__(self) -> None:
        super().__init__()
        self["quiet"] = self["verbose"] = False

    def opt_quiet(self) -> None:
        """log only errors"""
        self["quiet"] = True

    def opt_verbose(self) -> None:
        """log what is going on, not only warnings and errors"""
        self["verbose"] = True

    opt_q = opt_quiet
    opt_v = opt_verbose

    def parseOptions(self, options: list[str] | None = None) -> None:
        parent = getattr(self, "parent", None)
        if parent is not None:
            for flag in ("quiet", "verbose"):
                self[flag] = self[flag] or bool(parent.get(flag))
        if options is None:
            options = sys.argv[1:]
        try:
            options, arguments = self._options_first(options)
            super().parseOptions([*options, "--", *arguments])
        except usage.UsageError as e:
            if str(e) != _WRONG_NUMBER:
                raise
            signature = inspect.signature(self.parseArgs)
            try:
                signature.bind(*arguments)
            except TypeError:
                raise usage.UsageError(_arity_error(signature, arguments)) from None
            raise  # the count was right: something else went wrong

    def _options_first(self, argv: list[str]) -> tuple[list[str], list[str]]:
        """
        ``argv`` split into options and arguments wherever the options are
        (``hvsock cat ADDRESS -v``); usage.Options alone stops at the first
        argument. ``--`` still ends the options.
        """
        try:
            pairs, arguments = getopt.gnu_getopt(argv, self.shortOpt, self.longOpt)
        except getopt.GetoptError as e:
            option = f"{'-' if len(e.opt) == 1 else '--'}{e.opt}"
            if option in self.renamed:
                raise usage.UsageError(
                    f"{option} is now {self.renamed[option]}"
                ) from None
            raise usage.UsageError(str(e)) from None
        options: list[str] = []
        for option, value in pairs:
            if option.startswith("--"):
                takes_value = f"{option[2:]}=" in self.longOpt
                options.append(f"{option}={value}" if takes_value else option)
            else:
                takes_value = f"{option[1]}:" in self.shortOpt
                options.extend([option, value] if takes_value else [option])
        return options, arguments

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


def _arity_error(signature: inspect.Signature, arguments: list[str]) -> str:
    """What ``parseArgs`` takes, named from its signature, and what came."""
    names = [
        parameter.name.upper()
        for parameter in signature.parameters.values()
        if parameter.kind
        in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    text = f"expected {_count(names)}; got {len(arguments) or 'none'}"
    if arguments:
        text += ": " + " ".join(repr(argument) for argument in arguments)
    return text
