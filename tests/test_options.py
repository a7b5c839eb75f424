"""
The endpoint-string grammar itself (``_options``), on a toy prefix: how
positional and named arguments meet their options, what the usage text and
the errors say, an option standing in for another, and a layer on top. The
real prefixes' strings are in tests/test_parsers.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from twisted_hvsock._options import (
    Grammar,
    Layer,
    Option,
    parse_boolean,
    parse_mode,
    parse_positive_float,
    parse_positive_int,
    parse_text,
)


@dataclass
class Built:
    reactor: Any
    where: str
    size: int | None
    name: str | None = None


@dataclass
class Wrapped:
    inner: Built
    loud: bool


WHERE = Option("where", parse_text, "<place>", positional=True)
SIZE = Option("size", parse_positive_int, "<n>", positional=True, default=None)
NAME = Option("name", parse_text, "<name>", default=None, instead_of="where")
LOUD = Layer(
    (Option("loud", parse_boolean, "yes|no", default=False),),
    lambda endpoint, loud: Wrapped(endpoint, loud) if loud else endpoint,
)
TOY = Grammar("toy", Built, (WHERE, SIZE, NAME), LOUD)


def test_positional_and_named_arguments_reach_the_same_options() -> None:
    reactor = object()
    assert TOY.build(reactor, ["here", "3"], {}) == Built(reactor, "here", 3)
    assert TOY.build(reactor, [], {"size": "3", "where": "here"}) == Built(
        reactor, "here", 3
    )
    assert TOY.build(reactor, ["here"], {}) == Built(reactor, "here", None)


def test_the_usage_text_shows_every_option_and_its_alternatives() -> None:
    assert TOY.usage == "toy:([where=]<place>|name=<name>)[:[size=]<n>][:loud=yes|no]"
    assert TOY.positional_form == "<place>:<n>"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ([], {"wher": "x"}, r"unknown option 'wher' \(did you mean where\?\)"),
        (["a", "1", "extra"], {}, r"too many positional arguments"),
        (["a"], {"where": "b"}, r"where is given twice"),
        ([], {}, r"where or name is required \(usage: toy:"),
        ([], {"where": "a", "name": "b"}, r"give where or name, not both"),
        (
            ["//a"],
            {},
            r"'toy://a' is a URI, not an endpoint string: write toy:<place>:<n>",
        ),
        (["a", "0"], {}, r"size"),
        (["a"], {"loud": "maybe"}, r"loud"),
    ],
)
def test_bad_arguments_name_what_is_wrong(
    args: list[str], kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TOY.build(object(), args, kwargs)


def test_an_option_standing_in_for_another_leaves_it_none() -> None:
    built = TOY.build(object(), [], {"name": "web", "size": "2"})
    assert (built.where, built.name, built.size) == (None, "web", 2)
    # Its place among the positional ones goes to the next option, as
    # vsock:vm=web:5000 gives 5000 to port.
    assert TOY.build(object(), ["7"], {"name": "web"}).size == 7


def test_the_layer_wraps_what_the_grammar_built() -> None:
    wrapped = TOY.build(object(), ["here"], {"loud": "yes"})
    assert isinstance(wrapped, Wrapped) and wrapped.inner.where == "here"


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [
        (parse_positive_int, "12", 12),
        (parse_positive_float, "0.5", 0.5),
        (parse_boolean, "Yes", True),
        (parse_boolean, "no", False),
        (parse_mode, "660", 0o660),
    ],
)
def test_value_parsers_accept_their_forms(parse: Any, text: str, value: Any) -> None:
    assert parse(text, "opt") == value


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_positive_int, "0"),
        (parse_positive_int, "1.5"),
        (parse_positive_float, "-1"),
        (parse_boolean, "perhaps"),
        (parse_mode, "999"),
    ],
)
def test_value_parsers_name_the_option_they_refuse(parse: Any, text: str) -> None:
    with pytest.raises(ValueError, match="opt"):
        parse(text, "opt")
