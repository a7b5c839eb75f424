"""
Checks on the built HTML that Sphinx's own warnings do not catch: run by
``tox -e docs`` after the build.

A type in the API reference (every page's autodoc entries, not only
``api.html``) must read as its name, a link to Twisted's reference where it
is Twisted's: never as a Python object's ``repr`` (``<InterfaceClass ...>``,
``TypeAliasForwardRef('...')``, ``ForwardRef('...')``) and never as ``Any``
for a reactor. Every page must be in a toctree, reachable from the landing
page's navigation.

Usage: ``python docs/check_build.py [BUILT_HTML_DIR]`` (default:
``docs/_build/html``, where ``tox -e docs`` builds).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

BUILT = Path(__file__).resolve().parent / "_build" / "html"

#: What a type never looks like in the rendered API reference, by what it is.
UNREADABLE = {
    # <InterfaceClass twisted...>, <class 'int'>, <function f at 0x...>
    "a Python object's repr": re.compile(
        r"<(?:InterfaceClass|class|function|bound method|module|built-in \w+) "
        r"|\bobject at 0x[0-9a-f]+"
    ),
    # Sphinx's TypeAliasForwardRef('twisted...'), typing's ForwardRef('X'):
    # a name that was never resolved. (A value's repr, UUID('...') as a
    # default, is how Python spells that value: fine.)
    "a typing object's repr": re.compile(r"\b\w*(?:ForwardRef|TypeAlias\w*)\("),
    "a reactor typed Any": re.compile(r"\breactor \(Any\b"),
}


class _ApiText(HTMLParser):
    """
    The text of a page's API entries (Sphinx's ``<dl class="py ...">``),
    without code examples (``<pre>``), where a call with a string is fine.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._open: list[str] = []
        self._api_depth = 0
        self._pre_depth = 0
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "img", "hr", "input", "meta", "link", "wbr"}:
            return
        classes = (dict(attrs).get("class") or "").split()
        entered_api = tag == "dl" and "py" in classes
        self._open.append(tag + (" api" if entered_api else ""))
        self._api_depth += entered_api
        self._pre_depth += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        # Pop up to the matching start tag (HTML lets some end tags go unsaid).
        while self._open:
            opened = self._open.pop()
            self._api_depth -= opened.endswith(" api")
            self._pre_depth -= opened == "pre"
            if opened.split()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._api_depth and not self._pre_depth:
            self._text.append(data)

    def text(self) -> str:
        """The API entries' text, whitespace runs made single spaces."""
        return re.sub(r"\s+", " ", "".join(self._text))


def api_text(page: str) -> str:
    """The text of the API entries on one built HTML page."""
    parser = _ApiText()
    parser.feed(page)
    parser.close()
    return parser.text()


def problems_in(page: str) -> Iterator[str]:
    """What on one page's API entries is not readable as a type: one line each."""
    text = api_text(page)
    for what, pattern in UNREADABLE.items():
        for match in pattern.finditer(text):
            context = text[max(0, match.start() - 40) : match.end() + 40]
            yield f"{what}: ...{context}..."


#: Pages Sphinx writes for every project, which no toctree lists.
GENERATED_PAGES = frozenset(
    {"index.html", "genindex.html", "py-modindex.html", "search.html"}
)


def orphan_pages(built: Path) -> list[str]:
    """
    The built pages that the landing page's navigation does not reach: a
    page no toctree lists, such as a file that another page includes and
    that Sphinx also built on its own.
    """
    index = (built / "index.html").read_text(encoding="utf-8")
    linked = set(re.findall(r'href="([^":#]+\.html)[#"]', index))
    pages = {page.name for page in built.glob("*.html")}
    return sorted(pages - linked - GENERATED_PAGES)


def check(built: Path) -> list[str]:
    """Every problem in the built HTML under built, as "page: problem" lines."""
    if not (built / "api.html").is_file():
        return [
            f"{built}: no built HTML here; build first "
            f"(sphinx-build -b html docs {built}) or pass its folder"
        ]
    problems = []
    for page_path in sorted(built.glob("*.html")):
        page = page_path.read_text(encoding="utf-8")
        problems += [f"{page_path}: {problem}" for problem in problems_in(page)]
    problems += [
        f"{built / page}: in no toctree (the navigation does not reach it)"
        for page in orphan_pages(built)
    ]
    if "https://docs.twisted.org/" not in (built / "api.html").read_text("utf-8"):
        problems.append(f"{built / 'api.html'}: no link to Twisted's API reference")
    return problems


def main(argv: list[str]) -> int:
    built = Path(argv[0]) if argv else BUILT
    problems = check(built)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
