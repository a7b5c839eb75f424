"""
docs/check_build.py, which ``tox -e docs`` runs on the built HTML: it must
catch a type printed as a Python repr anywhere in an API entry, and leave
prose and readable values alone.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType

CHECK_BUILD = Path(__file__).resolve().parents[1] / "docs" / "check_build.py"


def load_check_build() -> ModuleType:
    spec = spec_from_file_location("docs_check_build", CHECK_BUILD)
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_build = load_check_build()


def api_entry(body: str) -> str:
    """An HTML page with one autodoc entry whose field list holds body."""
    return (
        '<html><body><p>Prose.</p><dl class="py method">'
        '<dt class="sig sig-object py">connect(protocolFactory)</dt>'
        f'<dd><dl class="field-list simple"><dt>Return type:</dt><dd>{body}</dd>'
        "</dl></dd></dl></body></html>"
    )


def problems(page: str) -> list[str]:
    return list(check_build.problems_in(page))


def test_a_type_alias_forward_ref_in_a_return_type_is_caught() -> None:
    # As Sphinx 9 printed it, curly quotes and all (here as HTML entities).
    page = api_entry(
        "<p>Deferred[TypeAliasForwardRef("
        "&#8216;twisted.internet.interfaces.IProtocol&#8217;)]</p>"
    )
    [problem] = problems(page)
    assert problem.startswith("a typing object's repr: ")
    assert "Deferred[TypeAliasForwardRef(\u2018twisted.internet" in problem


def test_a_forward_ref_inside_a_union_is_caught() -> None:
    assert problems(api_entry("<em>ForwardRef('IPolicyForHTTPS') | None</em>"))


def test_an_interface_repr_is_caught() -> None:
    page = api_entry("&lt;InterfaceClass twisted.internet.interfaces.IProtocol&gt;")
    [problem] = problems(page)
    assert problem.startswith("a Python object's repr: ")


def test_a_reactor_typed_any_is_caught() -> None:
    page = api_entry("<strong>reactor</strong> (<em>Any</em>) &#8211; the reactor")
    assert problems(page)


def test_readable_types_values_prose_and_code_pass() -> None:
    page = "<p>Types no longer print as &lt;InterfaceClass ...&gt;.</p>" + api_entry(
        '<a href="https://docs.twisted.org/">Deferred</a>[IProtocol]'
        " vm_id=UUID('00000000-0000-0000-0000-000000000000')"
        "<pre>ForwardRef('shown in an example')</pre>"
    )
    assert problems(page) == []


def test_a_page_no_toctree_reaches_is_named(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(
        '<a href="tools.html">Tools</a> <a href="api.html#module">API</a>'
    )
    for page in ("tools.html", "api.html", "tools-stress.html", "genindex.html"):
        (tmp_path / page).write_text("<p>https://docs.twisted.org/</p>")
    assert check_build.check(tmp_path) == [
        f"{tmp_path / 'tools-stress.html'}: in no toctree "
        "(the navigation does not reach it)"
    ]


def test_a_missing_build_is_named(tmp_path: Path) -> None:
    [problem] = check_build.check(tmp_path)
    assert "no built HTML here" in problem


def file_times(folder: Path) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*")}


def test_the_twisted_inventory_is_written_beside_the_doctrees(tmp_path: Path) -> None:
    """
    Not into docs/_build, which is the source tree when the build's output
    goes elsewhere (sphinx-build -b html docs /tmp/html).
    """
    docs = CHECK_BUILD.parent
    before = file_times(docs)
    # A process of its own: docs/conf.py names Twisted's interfaces for autodoc.
    script = (
        "import runpy, sys, types\n"
        "conf = runpy.run_path(sys.argv[1])\n"
        "config = types.SimpleNamespace()\n"
        "conf['_link_twisted'](types.SimpleNamespace(doctreedir=sys.argv[2]), config)\n"
        "print(config.intersphinx_mapping['twisted'][1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(docs / "conf.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    inventory = tmp_path / "twisted-objects.inv"
    assert result.stdout.strip() == str(inventory)
    assert inventory.read_bytes().startswith(b"# Sphinx inventory version 2\n")
    assert file_times(docs) == before
