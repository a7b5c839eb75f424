"""Sphinx configuration for twisted-hvsock's documentation."""

from importlib.metadata import version as _installed_version

project = "twisted-hvsock"
author = "twisted-hvsock developers"
copyright = "2026, twisted-hvsock developers"
# The installed package's version: the one written in twisted_hvsock/__init__.py.
release = _installed_version("twisted-hvsock")
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
intersphinx_mapping: dict[str, tuple[str, None]] = {}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = ["_build"]
# Furo scrolls wide tables inside the text column instead of running past it.
html_theme = "furo"
html_title = f"twisted-hvsock {release}"
nitpicky = False
