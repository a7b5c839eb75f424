"""
``hvsock``: the console script's entry point and subcommand dispatch.

Every subcommand module offers ``Options`` (a ``usage.Options``) and
``run(reactor, options)``, returning a Deferred that fires with the exit
status. Bad arguments and failures users can act on print one line, never a
traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any, NoReturn

from twisted.internet import defer, error
from twisted.internet.task import react
from twisted.python import usage
from twisted.python.failure import Failure

from .command_options import VersionOption
from .log_output import LEVELS, start_logging
from .messages import one_line

# name -> (module, one-line summary); modules load only when chosen.
COMMANDS: dict[str, tuple[str, str]] = {
    "cat": ("twisted_hvsock.cli.cat", "relay stdin/stdout over a connection"),
    "forward": (
        "twisted_hvsock.cli.forward",
        "relay every connection to another address",
    ),
    "stress": ("twisted_hvsock.cli.stress", "stress-test and measure a connection"),
    "doctor": ("twisted_hvsock.cli.doctor", "say what this machine offers and lacks"),
    "notify": (
        "twisted_hvsock.cli.notify",
        "wait for a guest's systemd to say READY=1 (sd_notify over vsock)",
    ),
    "vms": (
        "twisted_hvsock.cli.vms",
        "list the VMs on this Linux host and their CIDs (libvirt, machined)",
    ),
    "register": (
        "twisted_hvsock.cli.register",
        "register a Hyper-V socket service (Windows host)",
    ),
    "unregister": (
        "twisted_hvsock.cli.unregister",
        "unregister a Hyper-V socket service (Windows host)",
    ),
    "services": (
        "twisted_hvsock.cli.services",
        "list the registered Hyper-V socket services (Windows host)",
    ),
}

#: Errors whose message is the whole story: no traceback for these.
EXPECTED_ERRORS = (ValueError, OSError, error.ConnectError, error.CannotListenError)


def _subcommand_options(module_name: str) -> Callable[[], usage.Options]:
    def build() -> usage.Options:
        options: usage.Options = import_module(module_name).Options()
        return options

    return build


class Options(VersionOption, usage.Options):
    synopsis = "hvsock [-q|-v] COMMAND [OPTIONS] [ARGS]"
    longdesc = (
        "Addresses are Twisted endpoint strings (vsock:cid=3:port=80, "
        "hvsock:vm=MyVM:service=80, tcp:localhost:8080) or URIs (vsock://3:80, "
        "vsock://:80, hvsock://MyVM/80). "
        "Run 'hvsock COMMAND --help' for a command's options and examples. "
        "-q and -v may also follow COMMAND."
    )
    optFlags = [
        ["quiet", "q", "log only errors"],
        ["verbose", "v", "log what is going on, not only warnings and errors"],
    ]
    subCommands = [
        (name, None, _subcommand_options(module), summary)
        for name, (module, summary) in COMMANDS.items()
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError(f"a command is needed: one of {', '.join(COMMANDS)}")
        # Given before the command or after it, -q and -v mean the same; the
        # command's options have both (CommandOptions).
        quiet = bool(self["quiet"] or self.subOptions["quiet"])
        verbose = bool(self["verbose"] or self.subOptions["verbose"])
        if quiet and verbose:
            raise usage.UsageError("-q and -v say opposite things: give one")
        self["log_level"] = LEVELS[
            "quiet" if quiet else "verbose" if verbose else "default"
        ]


def _run(reactor: Any, name: str, sub_options: usage.Options) -> defer.Deferred[None]:
    command = import_module(COMMANDS[name][0])
    result = defer.maybeDeferred(command.run, reactor, sub_options)

    def exit_with(status: int) -> None:
        if status:
            raise SystemExit(status)

    def explain(failure: Failure) -> None:
        if isinstance(failure.value, usage.UsageError):
            # An address that no endpoint can be built from: a usage error.
            _usage_error(f"hvsock {name}", failure.value)
        failure.trap(*EXPECTED_ERRORS)
        print(f"hvsock {name}: {one_line(failure)}", file=sys.stderr)
        raise SystemExit(1)

    return result.addCallbacks(exit_with, explain)


# What twisted.python.usage puts before a coercer's own message, which
# already names the option.
_COERCE_PREFIX = "Parameter type enforcement failed: "


def _usage_error(command: str, error: BaseException) -> NoReturn:
    """Print a usage error as one line and the hint, and exit with status 2."""
    print(f"{command}: {str(error).removeprefix(_COERCE_PREFIX)}", file=sys.stderr)
    print(f"Run '{command} --help' for usage.", file=sys.stderr)
    raise SystemExit(2)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``hvsock`` with ``argv`` (default: the process's arguments)."""
    options = Options()
    try:
        options.parseOptions(list(sys.argv[1:] if argv is None else argv))
    except (usage.UsageError, ValueError) as e:
        command = f"hvsock {options.subCommand}" if options.subCommand else "hvsock"
        _usage_error(command, e)
    start_logging(f"hvsock {options.subCommand}", options["log_level"])
    react(_run, (options.subCommand, options.subOptions))
