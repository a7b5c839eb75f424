"""
``hvsock`` itself: the version it reports, for itself and every subcommand.
"""

from __future__ import annotations

import subprocess

import pytest
import twisted

import twisted_hvsock
from twisted_hvsock.cli.main import COMMANDS

from ..support.hvsock_cli import hvsock

VERSION_LINE = (
    f"twisted-hvsock {twisted_hvsock.__version__} (Twisted {twisted.__version__})"
)


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_version_names_this_package_and_twisted(command: list[str]) -> None:
    result = hvsock(*command, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == VERSION_LINE


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_help_describes_the_version_option_as_this_package_s(
    command: list[str],
) -> None:
    result = hvsock(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Display Twisted version" not in result.stdout.decode()
    assert "twisted-hvsock's version" in result.stdout.decode()


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["cat", "vsock:cid=abc:port=1"], "ADDRESS 'vsock:cid=abc:port=1': cid must"),
        (
            ["cat", "tcp:host:notaport"],
            "ADDRESS 'tcp:host:notaport': port must be a whole number, got 'notaport'",
        ),
        (["cat", "tcp:host"], "ADDRESS 'tcp:host': port is missing"),
        (
            ["cat", "tcp:host:80:timeout=soon"],
            "timeout must be a whole number, got 'soon'",
        ),
        (
            ["cat", "-l", "unix:/tmp/x.sock:mode=rw"],
            "mode must be an octal number such as 660, got 'rw'",
        ),
        (["cat", "unix"], "ADDRESS 'unix': path is missing"),
        (["cat", "vsock:port=5\\"], "ends in a backslash"),
        (["cat", "--retry", "abc", "vsock://3:1"], "--retry must be a positive"),
        (["forward", "nonsense", "tcp:x:1"], "LISTEN: Unknown endpoint type"),
        (["forward", "tcp:0", "vsock:cid=x:port=1"], "CONNECT 'vsock:cid=x:port=1'"),
        (["stress", "-c", "vsock:port=x"], "ADDRESS 'vsock:port=x'"),
    ],
)
def test_an_unusable_address_is_a_one_line_usage_error(
    args: list[str], names: str
) -> None:
    result = hvsock(*args, stdin=subprocess.DEVNULL)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    first, hint = stderr.strip().split("\n")
    assert first.startswith(f"hvsock {args[0]}: ")
    assert names in first
    assert "Parameter type enforcement" not in first
    assert hint == f"Run 'hvsock {args[0]} --help' for usage."


def test_an_unusable_address_shows_no_python() -> None:
    result = hvsock("cat", "tcp:host:notaport", stdin=subprocess.DEVNULL)
    assert "int()" not in result.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cat"], "hvsock cat: expected one argument, ADDRESS; got none"),
        (
            ["forward", "tcp:0"],
            "hvsock forward: expected 2 arguments, LISTEN and CONNECT; got 1: 'tcp:0'",
        ),
        (
            ["services", "extra"],
            "hvsock services: expected no arguments; got 1: 'extra'",
        ),
    ],
)
def test_a_wrong_number_of_arguments_says_what_was_expected(
    args: list[str], message: str
) -> None:
    result = hvsock(*args, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    first, hint = result.stderr.decode().splitlines()
    assert first == message
    assert hint == f"Run 'hvsock {args[0]} --help' for usage."


@pytest.mark.parametrize(
    "args",
    [
        ["-q", "-v", "doctor", "unix"],
        ["-q", "doctor", "-v", "unix"],
        ["doctor", "unix", "-v", "-q"],
    ],
)
def test_quiet_and_verbose_together_are_refused_wherever_they_are(
    args: list[str],
) -> None:
    result = hvsock(*args)
    assert result.returncode == 2
    assert "-q and -v say opposite things" in result.stderr.decode()


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_flags_work_after_the_command_too(where: str) -> None:
    args = ["-q", "doctor", "unix"] if where == "before" else ["doctor", "unix", "-q"]
    result = hvsock(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("ok  AF_UNIX")
