"""
What every ``hvsock`` subcommand's options share (``CommandOptions``), on a
toy command: options after the arguments, ``-q``/``-v`` from before the
command, a wrong number of arguments named from ``parseArgs``, renamed
options pointing to their new names, and help that keeps its examples.
"""

from __future__ import annotations

import pytest
from twisted.python import usage

from twisted_hvsock.cli.command_options import CommandOptions


class Copy(CommandOptions):
    synopsis = "hvsock copy [options] SOURCE DESTINATION"
    longdesc = (
        "Copies SOURCE to DESTINATION, which is a long sentence that a "
        "terminal of forty columns has to wrap onto several lines.\n\n"
        "Examples:\n"
        "  hvsock copy vsock:3:5000 unix:/run/out.sock\n"
        "  hvsock copy -v unix:/run/in.sock vsock:3:5000"
    )
    optParameters = [["chunk", "c", "4096", "bytes per read"]]
    renamed = {"--size": "--chunk"}

    def parseArgs(self, source: str, destination: str) -> None:
        self["source"], self["destination"] = source, destination


EXPECTED = "expected 2 arguments, SOURCE and DESTINATION; got "


def parsed(*argv: str) -> Copy:
    options = Copy()
    options.parseOptions(list(argv))
    return options


def test_options_may_follow_the_arguments() -> None:
    options = parsed("in", "out", "-c", "10", "-v")
    assert (options["source"], options["destination"]) == ("in", "out")
    assert options["chunk"] == "10" and options["verbose"]


def test_a_double_dash_ends_the_options() -> None:
    options = parsed("--", "-v", "out")
    assert options["source"] == "-v" and not options["verbose"]


def test_quiet_and_verbose_given_before_the_command_are_seen() -> None:
    parent = usage.Options()
    parent["quiet"], parent["verbose"] = True, False
    options = Copy()
    options.parent = parent
    options.parseOptions(["in", "out"])
    assert options["quiet"] and not options["verbose"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "expected 2 arguments, SOURCE and DESTINATION; got none"),
        (["in"], "expected 2 arguments, SOURCE and DESTINATION; got 1: 'in'"),
        (
            ["a", "b", "c"],
            "expected 2 arguments, SOURCE and DESTINATION; got 3: 'a' 'b' 'c'",
        ),
    ],
)
def test_a_wrong_number_of_arguments_names_what_is_expected(
    argv: list[str], message: str
) -> None:
    with pytest.raises(usage.UsageError) as raised:
        parsed(*argv)
    assert str(raised.value) == message


def test_a_renamed_option_points_to_its_new_name() -> None:
    with pytest.raises(usage.UsageError, match="^--size is now --chunk$"):
        parsed("--size", "10", "in", "out")


def test_help_starts_with_the_synopsis_and_keeps_example_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    text = str(Copy())
    assert text.startswith("Usage: hvsock copy [options] SOURCE DESTINATION")
    assert "\n  hvsock copy vsock:3:5000 unix:/run/out.sock\n" in text
    prose = text[text.index("Copies") : text.index("Examples:")]
    assert all(len(line) <= 40 for line in prose.splitlines())
