"""
``hvsock`` itself: the version it reports, for itself and every subcommand.
"""

from __future__ import annotations

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
