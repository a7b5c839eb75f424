"""
Matching the positional and keyword arguments of an endpoint string to the
options a parser accepts, with errors that say what is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from twisted.internet.interfaces import (
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import IPlugin
from zope.interface import implementer


def match_options(
    usage: str,
    args: Sequence[object],
    kwargs: Mapping[str, object],
    *,
    positional: Sequence[str],
    accepted: Sequence[str],
    required: Sequence[str],
) -> dict[str, str]:
    """
    Name every argument of an endpoint string.

    :param usage: the accepted form, quoted in every error, e.g.
        ``"vsock:[port=]<port>[:cid=<cid>]"``.
    :param args: the positional arguments, in order.
    :param kwargs: the keyword arguments.
    :param positional: the option names the positional arguments stand for.
    :param accepted: every option name, positional ones included.
    :param required: the options that must be given.
    :return: option name to its text (Twisted passes text; anything else is
        turned into text so that it meets the same checks).
    :raises ValueError: for an unknown option, too many positional arguments,
        an option given twice, or a missing one.
    """
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r}; accepted: {', '.join(accepted)} "
            f"(usage: {usage})"
        )
    if len(args) > len(positional):
        raise ValueError(
            f"too many positional arguments {list(args)!r}; at most "
            f"{len(positional)} ({', '.join(positional)}) (usage: {usage})"
        )
    options = {name: str(value) for name, value in kwargs.items()}
    for name, value in zip(positional, args, strict=False):
        if name in options:
            raise ValueError(f"{name} is given twice (usage: {usage})")
        options[name] = str(value)
    missing = [name for name in required if name not in options]
    if missing:
        raise ValueError(f"{missing[0]} is required (usage: {usage})")
    return options


def parse_number(text: str, name: str, kind: type[int] | type[float]) -> float:
    """
    Turn a positive number given as text into a number.

    :raises ValueError: naming ``name`` when ``text`` is not one.
    """
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a positive number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"{name} must be a positive number, got {text!r}")
    return value


class _StringParser:
    """
    What the endpoint-string plugins share: they name the arguments of a
    description (see :func:`match_options`) and hand them to :attr:`build`.
    Subclasses set the class attributes.
    """

    prefix: str
    #: The accepted form, quoted in every error.
    usage: str
    positional: tuple[str, ...]
    accepted: tuple[str, ...]
    required: tuple[str, ...]
    #: Builds the endpoint from the reactor and the options' texts.
    build: Callable[..., Any]

    def _parse(
        self, reactor: Any, args: Sequence[object], kwargs: Mapping[str, object]
    ) -> Any:
        options = match_options(
            self.usage,
            args,
            kwargs,
            positional=self.positional,
            accepted=self.accepted,
            required=self.required,
        )
        return type(self).build(reactor, **options)


@implementer(IPlugin, IStreamServerEndpointStringParser)
class ServerStringParser(_StringParser):
    """A plugin for one ``serverFromString`` prefix."""

    def parseStreamServer(
        self, reactor: Any, *args: object, **kwargs: object
    ) -> IStreamServerEndpoint:
        endpoint: IStreamServerEndpoint = self._parse(reactor, args, kwargs)
        return endpoint


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class ClientStringParser(_StringParser):
    """A plugin for one ``clientFromString`` prefix."""

    def parseStreamClient(
        self, reactor: Any, *args: object, **kwargs: object
    ) -> IStreamClientEndpoint:
        endpoint: IStreamClientEndpoint = self._parse(reactor, args, kwargs)
        return endpoint
