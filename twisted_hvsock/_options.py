"""
The declaration machinery shared by the endpoint-string parsers.

Each option is declared once, as an :class:`Option`: its name, how its text
turns into a value, its default (or that it is required), whether it may be
given by position, and the form the usage text shows. A :class:`Grammar`
derives from those declarations everything else: the usage text quoted in
every error, the accepted names, the positional order, and the call of the
endpoint's constructor.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Final, Generic, TypeVar

from twisted.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import IPlugin
from zope.interface import implementer

from ._checks import IO_ENGINES, SOCKET_TYPES
from .address import CID_NAMES, parse_cid, parse_port

T = TypeVar("T")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of an option that must be given.
REQUIRED: Final = _Required()


@dataclass(frozen=True)
class Option(Generic[T]):
    """
    One option of an endpoint string.

    :param name: the option's name in the string.
    :param parse: turns the option's text into its value, given the text and
        the option's name; raises ``ValueError`` naming the option.
    :param form: what the usage text shows for the value, e.g. ``"<port>"``.
    :param default: the value when the option is not given, or
        :data:`REQUIRED`.
    :param positional: whether the option may be given without its name, in
        the order of the declarations.
    :param argument: the keyword of the endpoint's constructor that takes the
        value, if it is not ``name``.
    :param note: what the value may be, explained after the usage text.
    :param instead_of: the name of a required option this one may replace
        (``vm`` for ``cid``): given, that option is neither required nor
        counted among the positional ones, and the endpoint gets ``None``
        for it; the two cannot both be given.
    """

    name: str
    parse: Callable[[str, str], T]
    form: str
    default: T | _Required = REQUIRED
    positional: bool = False
    argument: str = ""
    note: str = ""
    instead_of: str = ""

    @property
    def required(self) -> bool:
        """Whether the option must be given."""
        return isinstance(self.default, _Required)

    @property
    def usage(self) -> str:
        """The option as the usage text shows it, without separators."""
        if self.positional:
            return f"[{self.name}=]{self.form}"
        return f"{self.name}={self.form}"

    def value(self, options: Mapping[str, str]) -> T:
        """The option's value among the named texts ``options``."""
        if self.name in options:
            return self.parse(options[self.name], self.name)
        assert not isinstance(self.default, _Required), "checked by name_arguments"
        return self.default


@dataclass(frozen=True)
class Layer:
    """
    What some grammars add on top of the endpoint they build (TLS): options
    of its own, and a function that takes the built endpoint and their
    values and returns the endpoint to hand out.

    :param options: the layer's declarations, after the grammar's own.
    :param wrap: ``wrap(endpoint, **values)``, the values named as the
        options are.
    """

    options: tuple[Option[Any], ...]
    wrap: Callable[..., Any]


@dataclass(frozen=True)
class Grammar:
    """
    The options of one endpoint-string prefix for one role.

    :param prefix: the prefix, e.g. ``"vsock"``.
    :param endpoint: what the options build: called with the reactor and
        every option's value as a keyword (the endpoint class itself).
    :param own: the declarations of ``endpoint``'s options, positional ones
        first, in order.
    :param layer: what is added on top of the endpoint, if anything.
    """

    prefix: str
    endpoint: Callable[..., Any]
    own: tuple[Option[Any], ...]
    layer: Layer | None = None

    @cached_property
    def options(self) -> tuple[Option[Any], ...]:
        """Every declaration: the endpoint's, then the layer's."""
        return self.own + (self.layer.options if self.layer else ())

    @cached_property
    def alternatives(self) -> dict[str, tuple[Option[Any], ...]]:
        """Each option that others may replace, and those others."""
        replaced: dict[str, tuple[Option[Any], ...]] = {}
        for option in self.options:
            if option.instead_of:
                replaced[option.instead_of] = (
                    *replaced.get(option.instead_of, ()),
                    option,
                )
        return replaced

    @cached_property
    def usage(self) -> str:
        """The accepted form, quoted in every error."""
        pieces = []
        shown = [option for option in self.options if not option.instead_of]
        for index, option in enumerate(shown):
            separator = ":" if index else ""
            usage = option.usage
            others = self.alternatives.get(option.name, ())
            if others:
                usage = f"({'|'.join([usage, *(o.usage for o in others)])})"
            piece = separator + usage
            pieces.append(f"[{piece}]" if not option.required else piece)
        notes = [f"{o.name}: {o.note}" for o in self.options if o.note]
        explained = f" ({'; '.join(notes)})" if notes else ""
        return f"{self.prefix}:{''.join(pieces)}{explained}"

    @cached_property
    def accepted(self) -> tuple[str, ...]:
        """Every option's name, in the order of the declarations."""
        return tuple(option.name for option in self.options)

    @cached_property
    def positional(self) -> tuple[str, ...]:
        """The names the positional arguments stand for, in order."""
        return tuple(o.name for o in self.options if o.positional)

    @cached_property
    def positional_form(self) -> str:
        """The positional options as a string shows them, e.g. ``<cid>:<port>``."""
        return ":".join(o.form for o in self.options if o.positional)

    @cached_property
    def required(self) -> tuple[str, ...]:
        """The names of the options that must be given."""
        return tuple(o.name for o in self.options if o.required)

    def name_arguments(
        self, args: Sequence[object], kwargs: Mapping[str, object]
    ) -> dict[str, str]:
        """
        Name every argument of an endpoint string.

        :param args: the positional arguments, in order.
        :param kwargs: the keyword arguments.
        :return: option name to its text (Twisted passes text; anything else
            is turned into text so that it meets the same checks).
        :raises ValueError: for an unknown option, too many positional
            arguments, an option given twice, or a missing one, quoting
            :attr:`usage`.
        """
        usage = self.usage
        if args and str(args[0]).startswith("//"):
            uri = f"{self.prefix}:{':'.join(map(str, args))}"
            raise ValueError(
                f"{uri!r} is a URI, not an endpoint string: write "
                f"{self.prefix}:{self.positional_form} (URIs are read by the "
                "hvsock command and twisted_hvsock.uri)"
            )
        unknown = sorted(set(kwargs) - set(self.accepted))
        if unknown:
            close = difflib.get_close_matches(unknown[0], self.accepted, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(
                f"unknown option {unknown[0]!r}{hint}; accepted: "
                f"{', '.join(self.accepted)}"
            )
        if len(args) > len(self.positional):
            raise ValueError(
                f"too many positional arguments {list(args)!r}; at most "
                f"{len(self.positional)} ({', '.join(self.positional)}) "
                f"(usage: {usage})"
            )
        options = {name: str(value) for name, value in kwargs.items()}
        replaced = {
            o.instead_of: o.name
            for o in self.options
            if o.instead_of and o.name in options
        }
        positional = [name for name in self.positional if name not in replaced]
        for name, value in zip(positional, args, strict=False):
            if name in options:
                raise ValueError(f"{name} is given twice (usage: {usage})")
            options[name] = str(value)
        for name, other in replaced.items():
            if name in options or len(args) > len(positional):
                raise ValueError(f"give {name} or {other}, not both (usage: {usage})")
        missing = [name for name in self.required if name not in options | replaced]
        if missing:
            either = [
                missing[0],
                *(o.name for o in self.alternatives.get(missing[0], ())),
            ]
            raise ValueError(f"{' or '.join(either)} is required (usage: {usage})")
        return options

    def build(
        self, reactor: Any, args: Sequence[object], kwargs: Mapping[str, object]
    ) -> Any:
        """
        Build the endpoint an endpoint string's arguments describe.

        :raises ValueError: naming the option at fault.
        """
        texts = self.name_arguments(args, kwargs)
        endpoint = self.endpoint(reactor, **_values(self.own, texts))
        if self.layer is None:
            return endpoint
        return self.layer.wrap(endpoint, **_values(self.layer.options, texts))


def _values(options: Sequence[Option[Any]], texts: Mapping[str, str]) -> dict[str, Any]:
    # A required option missing here was replaced by another (instead_of).
    return {
        o.argument or o.name: None
        if o.required and o.name not in texts
        else o.value(texts)
        for o in options
    }


def parse_positive_int(text: str, name: str) -> int:
    """
    Turn a positive integer given as text into an ``int``.

    :raises ValueError: naming ``name`` when ``text`` is not one.
    """
    try:
        value = int(text)
    except ValueError:
        # Also Python's refusal of a conversion over 4,300 digits.
        shown = repr(text) if len(text) <= 20 else f"a {len(text)}-character text"
        raise ValueError(f"{name} must be a positive number, got {shown}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive number, got {text!r}")
    return value


def parse_positive_float(text: str, name: str) -> float:
    """
    Turn a positive, finite number given as text into a ``float``.

    :raises ValueError: naming ``name`` when ``text`` is not one.
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):  # also false for NaN
        raise ValueError(f"{name} must be a positive number, got {text!r}")
    return value


_BOOLEANS = {"true": True, "yes": True, "1": True}
_BOOLEANS.update({"false": False, "no": False, "0": False})


def parse_boolean(text: str, name: str) -> bool:
    """
    Turn ``true``/``yes``/``1`` or ``false``/``no``/``0`` (any case) into a
    ``bool``.

    :raises ValueError: naming ``name`` otherwise.
    """
    value = _BOOLEANS.get(text.strip().lower())
    if value is None:
        raise ValueError(f"{name} must be true or false, got {text!r}")
    return value


def parse_text(text: str, name: str) -> str:
    """The option's text itself, for values the endpoint checks (paths)."""
    return text


def parse_mode(text: str, name: str = "mode") -> int:
    """
    Turn permission bits given in octal (``600``, ``0600`` or ``0o600``)
    into a number.

    :raises ValueError: naming ``name`` and the accepted forms.
    """
    digits = text.strip().lower().removeprefix("0o")
    if (
        not digits
        or not digits.isascii()
        or not set(digits) <= set("01234567")
        or int(digits, 8) > 0o777
    ):
        raise ValueError(
            f"{name} must be octal permission bits from 0 to 777 (e.g. 600), "
            f"got {text!r}"
        )
    return int(digits, 8)


def parse_descriptor(text: str, name: str) -> int:
    """
    Turn a file descriptor number given as text into a number.

    :raises ValueError: naming ``name`` when ``text`` is not one.
    """
    if not text.strip().isascii() or not text.strip().isdigit():
        raise ValueError(f"{name} must be a descriptor number, 0 or more, got {text!r}")
    return int(text)


def _parse_port(text: str, name: str) -> int:
    return parse_port(text, name=name)


def parse_listening_cid(text: str, name: str) -> int:
    """A CID to listen on: a number or a name, ``any`` included."""
    return parse_cid(text, allow_any=True, name=name)


def parse_connecting_cid(text: str, name: str) -> int:
    """A CID to connect to: a number or a name, but not ``any``."""
    return parse_cid(text, allow_any=False, name=name)


def _parse_lower(text: str, name: str) -> str:
    # Any case is accepted; the endpoint checks the value (_checks.check_io,
    # _checks.check_socket_type).
    return text.strip().lower()


# The options several backends share.

#: What a CID option's note says it may be.
CID_NOTE = f"a number or {'|'.join(CID_NAMES)}"
#: A port, the second positional option of most strings.
PORT = Option("port", _parse_port, "<port>", positional=True)
#: A listener's accept queue; unless given, the endpoint's default (the
#: kernel's longest queue).
BACKLOG = Option("backlog", parse_positive_int, "<n>", default=None)
#: A client's connect timeout, one attempt.
TIMEOUT = Option("timeout", parse_positive_float, "<seconds>", default=30.0)
#: How long a client keeps trying while nothing listens yet; unless given,
#: it tries once.
WAIT = Option("wait", parse_positive_float, "<seconds>", default=None)
#: The I/O engine; unless given, the endpoint picks one for the reactor.
IO = Option("io", _parse_lower, "|".join(IO_ENGINES), default=None)
#: What a connection carries: a stream unless given.
TYPE = Option("type", _parse_lower, "|".join(SOCKET_TYPES), default="stream")
#: A socket file's permission bits: owner-only unless given (the value of
#: ``_sockets.unix.OWNER_ONLY``, written out so that parsing loads no socket
#: code).
MODE = Option("mode", parse_mode, "<octal>", default=0o600)


def path_option(form: str) -> Option[str]:
    """The first positional option of the Unix-socket backends' strings."""
    return Option("path", parse_text, form, positional=True)


class _StringParser:
    """
    What the endpoint-string plugins share: a :class:`Grammar`, set by each
    subclass, from which the prefix comes.
    """

    grammar: ClassVar[Grammar]

    @property
    def prefix(self) -> str:
        """The endpoint-string prefix Twisted matches this plugin by."""
        return self.grammar.prefix


# An endpoint string's options arrive as keywords, so the methods below name
# no parameter an option could collide with (``reactor=1`` must be an unknown
# option, not a TypeError): ``self`` is positional-only and the reactor, which
# Twisted passes first, is taken from ``args``.


@implementer(IPlugin, IStreamServerEndpointStringParser)
class ServerStringParser(_StringParser):
    """A plugin for one ``serverFromString`` prefix."""

    def parseStreamServer(
        self, /, *args: object, **kwargs: object
    ) -> IStreamServerEndpoint:
        reactor, *arguments = args
        endpoint: IStreamServerEndpoint = self.grammar.build(reactor, arguments, kwargs)
        return endpoint


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class ClientStringParser(_StringParser):
    """A plugin for one ``clientFromString`` prefix."""

    def parseStreamClient(
        self, /, *args: object, **kwargs: object
    ) -> IStreamClientEndpoint:
        reactor, *arguments = args
        endpoint: IStreamClientEndpoint = self.grammar.build(reactor, arguments, kwargs)
        return endpoint
