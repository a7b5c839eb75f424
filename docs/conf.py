"""Sphinx configuration for twisted-hvsock's documentation."""

from importlib.metadata import version as _installed_version
from pathlib import Path

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
intersphinx_mapping: dict[str, tuple[str, None]] = {}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
exclude_patterns = ["_build", "changes"]
# Furo scrolls wide tables inside the text column instead of running past it.
html_theme = "furo"
html_title = f"twisted-hvsock {release}"
nitpicky = False
