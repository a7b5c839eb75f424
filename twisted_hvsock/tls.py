"""
TLS over this package's stream endpoints, from the words Twisted's own
``ssl:`` and ``tls:`` endpoint strings use.

The same words work on the Unix-socket backends, ``hyperkit:`` and
``hybridvsock:``.

Servers: ``vsock:port=443:privateKey=key.pem:certKey=cert.pem``, with
``extraCertChain`` for intermediate certificates and ``trustRoots`` to
require client certificates signed by those roots. Clients:
``vsock:3:443:tls=yes:hostname=web.example``, with ``trustRoots`` (default:
the platform's trust store) and ``certificate``/``privateKey`` for a client
certificate. A vsock peer has no DNS name, so ``hostname`` is the name its
certificate must carry, and is required.

All the TLS is Twisted's (``TLSMemoryBIOFactory``, ``optionsForClientTLS``,
``CertificateOptions``); this module reads the files and builds the
options, and its endpoints add half-close: ``loseWriteConnection`` sends
``close_notify`` and reading goes on, and under TLS 1.3 a peer's
``close_notify`` reaches an ``IHalfCloseableProtocol`` as
``readConnectionLost``. It needs Twisted's ``tls`` extra (pyOpenSSL),
imported only when TLS is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocol,
    IProtocolFactory,
    IStreamClientEndpoint,
    IStreamServerEndpoint,
)
from zope.interface import implementer

from ._options import Layer, Option, parse_boolean, parse_text
from .errors import MissingDependencyError

if TYPE_CHECKING:
    from twisted.internet.interfaces import (
        IOpenSSLClientConnectionCreator,
        IOpenSSLServerConnectionCreator,
    )
    from twisted.internet.ssl import Certificate, PrivateCertificate

__all__ = [
    "CLIENT_TLS",
    "SERVER_TLS",
    "TLSClientEndpoint",
    "TLSServerEndpoint",
    "client_tls_options",
    "load_certificates",
    "require_tls",
    "server_tls_options",
    "wrap_client",
    "wrap_server",
]


def require_tls() -> None:
    """
    Check that what Twisted's TLS needs (the ``tls`` extra) is installed.

    :raises MissingDependencyError: naming the missing module and the extra
        that brings it.
    """
    try:
        import cryptography  # noqa: F401
        import OpenSSL  # noqa: F401
        import service_identity  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(
            f"TLS needs the {e.name} module, which is not installed: "
            "pip install 'twisted-hvsock[tls]'",
            name=e.name,
        ) from None


_Endpoint = TypeVar("_Endpoint")
_Options = TypeVar("_Options")


def _check_stream(endpoint: object, name: str) -> None:
    """
    Refuse TLS over an endpoint whose connections carry messages (a vsock
    endpoint's ``type=seqpacket``): TLS needs a byte stream.

    :raises ValueError: naming ``name``.
    """
    if getattr(endpoint, "socket_type", "stream") != "stream":
        raise ValueError(
            f"{name}: TLS needs a byte stream, and type=seqpacket connections "
            "carry messages; leave out one or the other"
        )


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"{name}: cannot read {path!r}: {e.strerror}") from None


def load_certificates(path: str, name: str) -> list[Certificate]:
    """
    Every certificate in the PEM file ``path``, or in the PEM files of the
    directory ``path``.

    :raises ValueError: naming ``name`` if none can be read.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from twisted.internet.ssl import Certificate

    files = sorted(Path(path).iterdir()) if Path(path).is_dir() else [Path(path)]
    found: list[Certificate] = []
    for file in files:
        data = _read(str(file), name)
        if b"-----BEGIN CERTIFICATE-----" not in data:
            continue
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise ValueError(f"{name}: {str(file)!r} holds a bad certificate") from None
        found.extend(
            Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in certificates
        )
    if not found:
        raise ValueError(f"{name}: no PEM certificate in {path!r}")
    return found


def _private_certificate(
    key_path: str, cert_path: str, name: str
) -> PrivateCertificate:
    from OpenSSL.crypto import Error as OpenSSLError
    from twisted.internet.ssl import PrivateCertificate

    key, cert = _read(key_path, name), _read(cert_path, name)
    try:
        loaded: PrivateCertificate = PrivateCertificate.loadPEM(  # type: ignore[no-untyped-call]
            key + b"\n" + cert
        )
        return loaded
    except (OpenSSLError, ValueError):
        raise ValueError(
            f"{name}: {key_path!r} and {cert_path!r} must hold a PEM private key "
            "and its certificate"
        ) from None


def server_tls_options(
    privateKey: str,
    certKey: str | None = None,
    extraCertChain: str | None = None,
    trustRoots: str | None = None,
) -> IOpenSSLServerConnectionCreator:
    """
    A TLS server's options, as Twisted's ``ssl:`` strings build them.

    :param privateKey: the PEM file of the server's private key.
    :param certKey: the PEM file of its certificate; by default
        ``privateKey`` (one file holding both).
    :param extraCertChain: a PEM file of intermediate certificates to send
        with it.
    :param trustRoots: a PEM file or directory: if given, a client must
        present a certificate signed by one of these.
    :raises ValueError: naming the option whose file cannot be used.
    """
    require_tls()
    from twisted.internet.ssl import CertificateOptions, trustRootFromCertificates

    server = _private_certificate(privateKey, certKey or privateKey, "privateKey")
    chain = (
        []
        if extraCertChain is None
        else load_certificates(extraCertChain, "extraCertChain")
    )
    options: dict[str, Any] = {}
    if trustRoots is not None:
        roots = load_certificates(trustRoots, "trustRoots")
        options["trustRoot"] = trustRootFromCertificates(roots)  # type: ignore[no-untyped-call]
    return CertificateOptions(
        privateKey=server.privateKey.original,
        certificate=server.original,
        extraCertChain=[c.original for c in chain],
        **options,
    )


def client_tls_options(
    hostname: str,
    trustRoots: str | None = None,
    certificate: str | None = None,
    privateKey: str | None = None,
) -> IOpenSSLClientConnectionCreator:
    """
    A TLS client's options, through Twisted's ``optionsForClientTLS``.

    :param hostname: the name the server's certificate must carry.
    :param trustRoots: a PEM file or directory of the certificates to trust;
        by default the platform's trust store.
    :param certificate: the PEM file of a client certificate to present.
    :param privateKey: the PEM file of its key; by default ``certificate``.
    :raises ValueError: naming the option at fault.
    """
    require_tls()
    from twisted.internet.ssl import optionsForClientTLS, trustRootFromCertificates

    if not hostname:
        raise ValueError(
            "hostname is required with tls=yes: the name the "
            "server's certificate must carry"
        )
    trust = (
        None
        if trustRoots is None
        else trustRootFromCertificates(  # type: ignore[no-untyped-call]
            load_certificates(trustRoots, "trustRoots")
        )
    )
    if privateKey is not None and certificate is None:
        raise ValueError("privateKey: a client key goes with certificate=<PEM file>")
    client = (
        None
        if certificate is None
        else _private_certificate(privateKey or certificate, certificate, "certificate")
    )
    return optionsForClientTLS(hostname, trust, client)


class _OverEndpoint(Generic[_Endpoint, _Options]):
    """What both TLS endpoints hold: the endpoint underneath, and the options."""

    def __init__(self, endpoint: _Endpoint, options: _Options) -> None:
        _check_stream(endpoint, type(self).__name__)
        self._endpoint = endpoint
        self._options = options

    def __repr__(self) -> str:
        return f"<{type(self).__name__} over {self._endpoint!r}>"


@implementer(IStreamServerEndpoint)
class TLSServerEndpoint(
    _OverEndpoint[IStreamServerEndpoint, "IOpenSSLServerConnectionCreator"]
):
    """
    Listens on ``endpoint`` and speaks TLS on every connection it accepts,
    through Twisted's ``TLSMemoryBIOFactory``.

    :param endpoint: the endpoint to listen on.
    :param options: the server's TLS options (see :func:`server_tls_options`).
    :raises ValueError: if ``endpoint``'s connections carry messages.
    """

    def listen(
        self, protocolFactory: IProtocolFactory
    ) -> defer.Deferred[IListeningPort]:
        """
        Start listening.

        :return: what the wrapped endpoint's ``listen`` returns.
        """
        from ._tls_half_close import HalfCloseableTLSFactory

        return self._endpoint.listen(
            HalfCloseableTLSFactory(self._options, False, protocolFactory)
        )


@implementer(IStreamClientEndpoint)
class TLSClientEndpoint(
    _OverEndpoint[IStreamClientEndpoint, "IOpenSSLClientConnectionCreator"]
):
    """
    Connects through ``endpoint`` and speaks TLS over the connection, as
    Twisted's ``wrapClientTLS`` does, with half-close added.

    :param endpoint: the endpoint to connect through.
    :param options: the client's TLS options (see :func:`client_tls_options`).
    :raises ValueError: if ``endpoint``'s connections carry messages.
    """

    def connect(self, protocolFactory: IProtocolFactory) -> defer.Deferred[IProtocol]:
        """
        Connect, and start the handshake.

        :return: a ``Deferred`` firing with the protocol ``protocolFactory``
            built, once the connection underneath is made.
        """
        from ._tls_half_close import HalfCloseableTLSFactory

        connecting = self._endpoint.connect(
            HalfCloseableTLSFactory(self._options, True, protocolFactory)
        )
        return connecting.addCallback(_protocol_under_tls)


def _protocol_under_tls(tls: IProtocol) -> IProtocol:
    wrapped: IProtocol = tls.wrappedProtocol  # type: ignore[attr-defined]
    return wrapped


def _refuse_given(why: str, **options: str | None) -> None:
    # TLS options without TLS: the first one given, named, in the option order.
    for name, value in options.items():
        if value is not None:
            raise ValueError(f"{name}: {why}")


def wrap_server(
    endpoint: IStreamServerEndpoint,
    privateKey: str | None = None,
    certKey: str | None = None,
    extraCertChain: str | None = None,
    trustRoots: str | None = None,
) -> IStreamServerEndpoint:
    """
    ``endpoint``, under TLS (a :class:`TLSServerEndpoint`) if ``privateKey``
    is given; the words of Twisted's ``ssl:`` strings, as
    :func:`server_tls_options` takes them.

    :raises ValueError: naming the option at fault, e.g. ``certKey`` without
        ``privateKey``, or ``privateKey`` for an endpoint whose connections
        carry messages.
    """
    if privateKey is None:
        _refuse_given(
            "TLS needs privateKey=<PEM file> too",
            certKey=certKey,
            extraCertChain=extraCertChain,
            trustRoots=trustRoots,
        )
        return endpoint
    _check_stream(endpoint, "privateKey")
    return TLSServerEndpoint(
        endpoint, server_tls_options(privateKey, certKey, extraCertChain, trustRoots)
    )


def wrap_client(
    endpoint: IStreamClientEndpoint,
    tls: bool = False,
    hostname: str | None = None,
    trustRoots: str | None = None,
    certificate: str | None = None,
    privateKey: str | None = None,
) -> IStreamClientEndpoint:
    """
    ``endpoint``, under TLS (a :class:`TLSClientEndpoint`) if ``tls``; the
    words of Twisted's ``tls:`` strings, as :func:`client_tls_options` takes
    them.

    :raises ValueError: naming the option at fault, e.g. ``hostname``
        without ``tls``, or ``tls`` for an endpoint whose connections carry
        messages.
    """
    if not tls:
        _refuse_given(
            "only with tls=yes",
            hostname=hostname,
            trustRoots=trustRoots,
            certificate=certificate,
            privateKey=privateKey,
        )
        return endpoint
    _check_stream(endpoint, "tls")
    return TLSClientEndpoint(
        endpoint,
        client_tls_options(hostname or "", trustRoots, certificate, privateKey),
    )


def _pem(name: str, form: str = "<PEM file>") -> Option[str | None]:
    # A file the TLS options read, as Twisted's ssl: has.
    return Option(name, parse_text, form, default=None)


#: The TLS words of Twisted's ``ssl:`` strings, for the stream backends'
#: server strings.
SERVER_TLS = Layer(
    (
        _pem("privateKey"),
        _pem("certKey"),
        _pem("extraCertChain"),
        _pem("trustRoots", "<PEM file|dir>"),
    ),
    wrap_server,
)

#: The TLS words of Twisted's ``tls:`` strings, for their client strings.
CLIENT_TLS = Layer(
    (
        Option("tls", parse_boolean, "yes|no", default=False),
        Option("hostname", parse_text, "<name>", default=None),
        _pem("trustRoots", "<PEM file|dir>"),
        _pem("certificate"),
        _pem("privateKey"),
    ),
    wrap_client,
)
