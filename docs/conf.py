"""Sphinx configuration for twisted-hvsock's documentation."""

from __future__ import annotations

import importlib
import inspect
import zlib
from importlib.metadata import version as _installed_version
from pathlib import Path
from typing import TYPE_CHECKING

from zope.interface.interface import InterfaceClass

if TYPE_CHECKING:
    from sphinx.application import Sphinx
    from sphinx.config import Config

project = "twisted-hvsock"
author = "twisted-hvsock developers"
copyright = "2026, twisted-hvsock developers"
# The installed package's version: the one written in twisted_hvsock/__init__.py.
release = _installed_version("twisted-hvsock")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinxcontrib.towncrier.ext",
]
# The changelog shows the news fragments not yet released (docs/changes/).
towncrier_draft_autoversion_mode = "draft"
towncrier_draft_include_empty = True
towncrier_draft_working_directory = str(Path(__file__).resolve().parents[1])

# Twisted's API reference, linked from every Twisted name in a signature.
TWISTED_API = "https://docs.twisted.org/en/stable/api/"
#: The Twisted modules whose names the public API's signatures use.
TWISTED_MODULES = (
    "twisted.internet.address",
    "twisted.internet.defer",
    "twisted.internet.endpoints",
    "twisted.internet.error",
    "twisted.internet.interfaces",
    "twisted.internet.protocol",
    "twisted.python.failure",
    "twisted.web.client",
    "twisted.web.iweb",
)


def _twisted_names() -> dict[str, object]:
    """Every public class, interface and function of TWISTED_MODULES, by full name."""
    names: dict[str, object] = {}
    for module_name in TWISTED_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module_name
            if name.startswith("_") or not defined_here:
                continue
            if isinstance(value, (type, InterfaceClass)) or inspect.isfunction(value):
                names[f"{module_name}.{name}"] = value
    return names


def _write_twisted_inventory(path: Path, names: dict[str, object]) -> None:
    """
    Write an intersphinx inventory of Twisted's API reference (pydoctor's page
    layout: a page per class, functions anchored on their module's page),
    built from the installed Twisted so that the docs build offline.
    """
    lines = []
    for full_name, value in sorted(names.items()):
        module_name, _, name = full_name.rpartition(".")
        if inspect.isfunction(value):
            lines.append(f"{full_name} py:function 1 {module_name}.html#{name} -")
        else:
            lines.append(f"{full_name} py:class 1 {full_name}.html -")
        if isinstance(value, InterfaceClass):
            # Some signatures keep an interface's name as the source spells
            # it, the short one; it links to the same page.
            lines.append(f"{name} py:class 1 {full_name}.html {name}")
    header = (
        "# Sphinx inventory version 2\n"
        "# Project: Twisted\n"
        f"# Version: {_installed_version('twisted')}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress(("\n".join(lines) + "\n").encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode() + body)


_TWISTED_NAMES = _twisted_names()


def _link_twisted(app: Sphinx, config: Config) -> None:
    """
    Write the Twisted inventory beside this build's doctrees, not into the
    source tree (whatever the output folder), and point intersphinx at it.
    """
    inventory = Path(app.doctreedir) / "twisted-objects.inv"
    _write_twisted_inventory(inventory, _TWISTED_NAMES)
    config.intersphinx_mapping = {"twisted": (TWISTED_API, str(inventory))}


def setup(app: Sphinx) -> None:
    # Before intersphinx reads the mapping (config-inited, priority 800).
    app.connect("config-inited", _link_twisted, priority=500)


# Zope interfaces are objects, not classes, and have no __qualname__: autodoc
# prints them, alone or inside Deferred[...] or X | None, as their repr
# "<InterfaceClass ...>". With a __qualname__ they print as their name, a
# link to Twisted's page. (autodoc_type_aliases did this for a bare interface
# only: Sphinx 9 prints one nested in Deferred[...] as the repr of its
# TypeAliasForwardRef, sphinx-doc/sphinx#14003.)
for _value in _TWISTED_NAMES.values():
    if isinstance(_value, InterfaceClass):
        _value.__qualname__ = _value.__name__
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# tools-stress.rst is a section of the tools page (tools.rst includes it),
# not a page of its own that no toctree would list.
exclude_patterns = ["_build", "changes", "tools-stress.rst"]
# Furo scrolls wide tables inside the text column instead of running past it.
html_theme = "furo"
html_title = f"twisted-hvsock {release}"
nitpicky = False
