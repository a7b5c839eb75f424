"""
Bad input never escapes as anything but a clear ``ValueError``: property
tests over every endpoint-string prefix, both roles, and the URI layer.

Only endpoints are built, never listened on or connected: building one does
no I/O, so these run in the host tier.
"""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import reactor
from twisted.internet.endpoints import _parse, clientFromString, serverFromString

from twisted_hvsock.uri import client_endpoint, server_endpoint

#: Prefix -> every option name either role takes.
OPTIONS = {
    "vsock": ["port", "cid", "backlog", "timeout", "io"],
    "hvsock": ["service", "vm", "backlog", "timeout", "suspend", "io"],
    "hyperkit": ["path", "port", "cid", "backlog", "mode", "timeout", "io"],
    "hybridvsock": ["path", "port", "backlog", "mode", "timeout", "io"],
}
#: Words a message uses when the problem is the shape of the string rather
#: than one option's value.
SHAPE_WORDS = ("unknown option", "positional", "is required", "given twice")

# Mostly what options are made of, with the characters that break things.
TEXT = st.text(
    alphabet=st.sampled_from(
        [*"0123456789abcdefx-./_:=, \\", "\n", "\0", "\udc80", "\ud800", "é"]
    ),
    max_size=24,
)
VALUE = st.one_of(
    TEXT,
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["1e20", "1e300", "inf", "nan", "-0", "0", "0x10", "9" * 5000]),
    st.uuids().map(lambda u: f"{u}\n"),
)


@st.composite
def descriptions(draw: st.DrawFn, prefix: str) -> str:
    names = OPTIONS[prefix]
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            name = draw(st.sampled_from([*names, *names, "reactor", "self", "x"]))
            parts.append(f"{name}={draw(VALUE)}")
        else:
            parts.append(draw(VALUE))
    return ":".join([prefix, *parts])


def names_an_option(message: str, prefix: str) -> bool:
    words = set(re.findall(r"[a-z_]+", message))
    return bool(words & set(OPTIONS[prefix])) or any(w in message for w in SHAPE_WORDS)


def check_only_value_errors(build: object, description: str, prefix: str) -> None:
    try:
        _parse(description)
    except Exception:
        # Twisted's own tokenizer: library users get Twisted's behaviour
        # (the URI layer and hvsock turn it into a ValueError, tested below).
        return
    try:
        build(reactor, description)  # type: ignore[operator]
    except ValueError as e:
        assert names_an_option(str(e), prefix), f"{description!r}: {e}"


FUZZ = settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


# pytest-twisted wraps a @given test's inner function in place, so a
# parametrised one would be wrapped once per parameter: the parameters are
# drawn instead.
@FUZZ
@given(
    prefix=st.sampled_from(sorted(OPTIONS)),
    build=st.sampled_from([serverFromString, clientFromString]),
    data=st.data(),
)
def test_endpoint_strings_fail_only_with_a_value_error_naming_the_option(
    prefix: str, build: object, data: st.DataObject
) -> None:
    check_only_value_errors(build, data.draw(descriptions(prefix)), prefix)


URI_TEXT = st.text(
    alphabet=st.sampled_from([*"0123456789abcdef:/.-_x", "\\", "\ud800", "é"]),
    max_size=30,
)


@FUZZ
@given(
    scheme=st.sampled_from(["vsock", "hvsock", "hyperkit", "hybridvsock"]),
    build=st.sampled_from([server_endpoint, client_endpoint]),
    rest=URI_TEXT,
)
def test_uris_fail_only_with_a_value_error(
    scheme: str, build: object, rest: str
) -> None:
    with contextlib.suppress(ValueError):
        build(reactor, f"{scheme}://{rest}")  # type: ignore[operator]


@pytest.mark.parametrize(
    "text",
    [
        "vsock:port=5\\",
        "vsock:\xff=",
        "unix",
        "tcp:host:notaport",
        "vsock:cid=1:port=5:reactor=1",
        "hybridvsock:path=/tmp/\ud800:port=5",
        "vsock:port=1:port=2",
    ],
)
@pytest.mark.parametrize("build", [server_endpoint, client_endpoint])
def test_the_uri_layer_turns_every_failure_into_a_value_error(
    build: object, text: str
) -> None:
    with pytest.raises(ValueError):
        build(reactor, text)  # type: ignore[operator]
