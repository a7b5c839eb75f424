"""
HTTP over AF_VSOCK for Twisted's ``Agent`` and for treq.

``http+vsock://<cid>:<port>/<path>`` names a web server listening on vsock
port ``<port>`` of the machine with CID ``<cid>``; ``https+vsock://`` is the
same spoken over TLS. The CID is a number or a name (``host``, ``local``,
``hypervisor``), and the port is required::

    import treq
    from twisted_hvsock.web import vsock_agent

    response = await treq.get("http+vsock://host:8080/", agent=vsock_agent(reactor))

Plain ``http://`` and ``https://`` URLs keep working through the same agent,
so redirects between the two kinds of server are followed.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IReactorFDSet, IStreamClientEndpoint
from twisted.web.client import URI, Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.error import SchemeNotSupported
from twisted.web.http_headers import Headers
from twisted.web.iweb import (
    IAgentEndpointFactory,
    IBodyProducer,
    IPolicyForHTTPS,
    IResponse,
)
from zope.interface import implementer

from ._checks import check_timeout
from .address import split_vsock_authority
from .vsock import VSockClientEndpoint

__all__ = ["VSOCK_SCHEMES", "VSockAgentEndpointFactory", "vsock_agent"]

#: The URL schemes that reach a web server over AF_VSOCK.
VSOCK_SCHEMES = (b"http+vsock", b"https+vsock")

_TLS_SCHEMES = (b"https", b"https+vsock")
_SUPPORTED = "http, https, http+vsock and https+vsock"


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "backslashreplace")


def _url(uri: URI) -> str:
    # URI's methods carry no annotations; mypy --strict needs the ignore.
    return _text(uri.toBytes())


@implementer(IAgentEndpointFactory)
class VSockAgentEndpointFactory:
    """
    Chooses how an ``Agent`` connects, from the scheme of the request's URL.

    ==================================  =======================================
    URL                                 endpoint
    ==================================  =======================================
    ``http+vsock://<cid>:<port>/...``   :class:`~twisted_hvsock.VSockClientEndpoint`
                                        to ``<cid>``, ``<port>``
    ``https+vsock://<cid>:<port>/...``  the same, wrapped in TLS
    ``http://<host>[:<port>]/...``      ``HostnameEndpoint`` (TCP), as
                                        Twisted's own ``Agent`` does
    ``https://<host>[:<port>]/...``     the same, wrapped in TLS
    ==================================  =======================================

    TLS connections take their settings from ``tls_policy``, which is asked
    for the host *as written in the URL* (``b"3"`` or ``b"host"`` for a vsock
    URL) and the port.

    Most code wants :func:`vsock_agent`, which builds an ``Agent`` around
    this factory. Given to ``Agent.usingEndpointFactory`` directly, the
    factory works too, but that ``Agent`` raises a malformed vsock URL's
    ``ValueError`` from ``request()`` instead of failing its Deferred.

    :param reactor: a reactor providing TCP, time and file-descriptor APIs
        (every POSIX reactor does).
    :param tls_policy: an ``IPolicyForHTTPS`` for ``https`` and
        ``https+vsock`` URLs; by default a ``BrowserLikePolicyForHTTPS``,
        which checks the server's certificate against the system's trusted
        roots and the URL's host, so a certificate can never match a vsock
        URL's CID: pass a policy of your own for ``https+vsock``.
    :param connect_timeout: seconds to wait for each connection.
    :raises ValueError: if ``connect_timeout`` is not a positive number.
    :raises TypeError: if ``tls_policy`` does not provide ``IPolicyForHTTPS``.
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        *,
        tls_policy: IPolicyForHTTPS | None = None,
        connect_timeout: float = 30,
    ) -> None:
        if tls_policy is None:
            tls_policy = BrowserLikePolicyForHTTPS()
        elif not IPolicyForHTTPS.providedBy(tls_policy):
            raise TypeError(
                f"tls_policy must provide IPolicyForHTTPS, got {tls_policy!r}"
            )
        self._reactor = reactor
        self._tls_policy = tls_policy
        self._connect_timeout = check_timeout(connect_timeout)

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        """
        Build the endpoint that reaches ``uri``'s server.

        :param uri: the request's URL, parsed.
        :return: an endpoint; nothing is connected yet.
        :raises ValueError: for a vsock URL without a port or with a CID
            that is not a number or a CID name; the message quotes the URL
            and the expected form.
        :raises twisted.web.error.SchemeNotSupported: for any scheme but
            ``http``, ``https``, ``http+vsock`` and ``https+vsock``.
        """
        endpoint: IStreamClientEndpoint
        if uri.scheme in VSOCK_SCHEMES:
            endpoint = self._vsock_endpoint(uri)
        elif uri.scheme in (b"http", b"https"):
            endpoint = self._tcp_endpoint(uri)
        else:
            raise SchemeNotSupported(
                f"unsupported URL scheme {_text(uri.scheme)!r} in "
                f"{_url(uri)!r}: the vsock agent supports {_SUPPORTED}"
            )
        if uri.scheme in _TLS_SCHEMES:
            creator = self._tls_policy.creatorForNetloc(uri.host, uri.port)
            endpoint = wrapClientTLS(creator, endpoint)
        return endpoint

    def _vsock_endpoint(self, uri: URI) -> VSockClientEndpoint:
        # URI.fromBytes substitutes port 80 when the URL has none, so read
        # the port from the URL's own text.
        try:
            cid, port = split_vsock_authority(_text(uri.netloc), connecting=True)
        except ValueError as e:
            scheme = _text(uri.scheme)
            raise ValueError(
                f"bad {scheme} URL {_url(uri)!r}: {e}; expected "
                f"{scheme}://<cid>:<port>/<path>"
            ) from None
        assert cid is not None  # connecting=True requires one
        return VSockClientEndpoint(
            self._reactor, cid, port, timeout=self._connect_timeout
        )

    def _tcp_endpoint(self, uri: URI) -> HostnameEndpoint:
        # This is what Twisted's Agent does for http and https, rebuilt from
        # public pieces: the class that does it there,
        # twisted.web.client._StandardEndpointFactory, is private, so its
        # constructor may change in any release without a deprecation period.
        try:
            host = uri.host.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(
                f"the host of {_url(uri)!r} is not ASCII: "
                "encode a non-ASCII host name with IDNA"
            ) from None
        return HostnameEndpoint(
            self._reactor, host, uri.port, timeout=self._connect_timeout
        )


class _VSockAgent(Agent):
    """
    An ``Agent`` whose ``request()`` never raises: a malformed URL, a bad
    vsock address or a bad method fails the returned Deferred, which is
    where treq and the agents that wrap this one look for errors.
    """

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> defer.Deferred[IResponse]:
        try:
            return super().request(method, uri, headers, bodyProducer)
        except Exception:
            return defer.fail()


def vsock_agent(
    reactor: IReactorFDSet,
    *,
    tls_policy: IPolicyForHTTPS | None = None,
    pool: HTTPConnectionPool | None = None,
    connect_timeout: float = 30,
) -> Agent:
    """
    Build an ``Agent`` that fetches ``http+vsock`` and ``https+vsock`` URLs
    as well as ``http`` and ``https`` ones; give it to treq as ``agent=``.

    Errors in the URL (no port, an unknown CID name, an unsupported scheme)
    fail the Deferred that ``request()`` returns; ``request()`` itself does
    not raise.

    :param reactor: a reactor providing TCP, time and file-descriptor APIs
        (every POSIX reactor does).
    :param tls_policy: the ``IPolicyForHTTPS`` that sets up TLS for
        ``https`` and ``https+vsock`` URLs; see
        :class:`VSockAgentEndpointFactory`.
    :param pool: the ``HTTPConnectionPool`` to keep connections in; by
        default a new pool that closes each connection after its request.
    :param connect_timeout: seconds to wait for each connection.
    :return: the agent.
    :raises ValueError: if ``connect_timeout`` is not a positive number.
    :raises TypeError: if ``tls_policy`` does not provide ``IPolicyForHTTPS``.
    """
    factory = VSockAgentEndpointFactory(
        reactor, tls_policy=tls_policy, connect_timeout=connect_timeout
    )
    agent: Agent = _VSockAgent.usingEndpointFactory(reactor, factory, pool)
    return agent
