"""
docs/architecture.rst names every module of the package
(docs/check_architecture.py, which ``tox -e docs`` runs too).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _checker() -> object:
    spec = importlib.util.spec_from_file_location(
        "check_architecture", ROOT / "docs" / "check_architecture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_architecture_page_names_every_module() -> None:
    checker: object = _checker()
    page = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    assert checker.missing(page) == []  # type: ignore[attr-defined]


def test_a_module_missing_from_the_page_is_found() -> None:
    checker: object = _checker()
    names = checker.module_names()  # type: ignore[attr-defined]
    assert {"vsock", "_engines.threads.port", "cli.cat", "_sockets"} <= set(names)
    page = " ".join(f"``{name}``" for name in names if name != "_waiting")
    assert checker.missing(page) == ["_waiting"]  # type: ignore[attr-defined]
