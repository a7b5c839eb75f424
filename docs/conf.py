"""Sphinx configuration for twisted-hvsock's documentation."""

project = "twisted-hvsock"
author = "twisted-hvsock developers"
copyright = "2026, twisted-hvsock developers"

extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
intersphinx_mapping: dict[str, tuple[str, None]] = {}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
