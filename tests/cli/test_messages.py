"""
Failures as the words ``hvsock`` prints: no Python reprs, addresses as a
user types them.
"""

from __future__ import annotations

import errno
import uuid

import pytest
from twisted.internet import error
from twisted.python.failure import Failure

from twisted_hvsock.cli.messages import listen_target, one_line

GUID_VM = uuid.UUID("a42e7cda-d03f-480c-9cc2-a4de20abb878")
GUID_SERVICE = uuid.UUID("00001388-facb-11e6-bd58-64006a7986d3")


@pytest.mark.parametrize(
    ("interface", "port", "where"),
    [
        (0xFFFFFFFF, 7, "vsock://any:7"),
        (3, 5000, "vsock://3:5000"),
        (None, "/tmp/v.sock_5000", "unix:/tmp/v.sock_5000"),
        (None, b"/tmp/v.sock_5000", "unix:/tmp/v.sock_5000"),
        ("", 8080, "tcp:0.0.0.0:8080"),
        ("127.0.0.1", 8080, "tcp:127.0.0.1:8080"),
        ("::1", 8080, "tcp6:host=\\:\\:1:port=8080"),
        (str(GUID_VM), str(GUID_SERVICE), f"hvsock://{GUID_VM}/{GUID_SERVICE}"),
        (None, "fd=3", "fd=3"),
    ],
)
def test_where_a_port_failed_to_listen_reads_as_an_address(
    interface: object, port: object, where: str
) -> None:
    assert listen_target(interface, port) == where


def test_a_listen_failure_names_the_address_and_the_reason_in_words() -> None:
    reason = OSError(errno.EADDRINUSE, "Address already in use")
    failure = error.CannotListenError(0xFFFFFFFF, 7, reason)
    assert one_line(failure) == "cannot listen on vsock://any:7: Address already in use"


def test_a_listen_failure_of_an_unknown_shape_keeps_both_fields() -> None:
    failure = error.CannotListenError(object, 7, "no")
    assert one_line(failure) == f"cannot listen on {object}:7: no"


def test_a_connect_error_is_one_lower_case_line() -> None:
    failure = error.ConnectionRefusedError()
    assert one_line(failure) == "connection was refused by other side"


def verification_error(*mismatches: object) -> Exception:
    error_type: type[Exception] = pytest.importorskip(
        "service_identity"
    ).VerificationError
    return error_type(errors=list(mismatches))


def test_a_certificate_for_another_name_is_said_in_words() -> None:
    pytest.importorskip("service_identity")
    from service_identity.exceptions import DNSMismatch
    from service_identity.hazmat import DNS_ID

    failure = Failure(
        verification_error(DNSMismatch(mismatched_id=DNS_ID("other.example")))
    )
    assert one_line(failure) == ("TLS: the peer's certificate is not for other.example")


def test_a_certificate_for_another_address_is_said_in_words() -> None:
    pytest.importorskip("service_identity")
    from service_identity.exceptions import IPAddressMismatch
    from service_identity.hazmat import IPAddress_ID

    mismatch = IPAddressMismatch(mismatched_id=IPAddress_ID("127.0.0.1"))
    assert one_line(verification_error(mismatch)) == (
        "TLS: the peer's certificate is not for 127.0.0.1"
    )


def test_a_certificate_that_does_not_verify_is_said_in_words() -> None:
    ssl = pytest.importorskip("OpenSSL.SSL")
    failure = ssl.Error([("SSL routines", "", "certificate verify failed")])
    text = one_line(failure)
    assert text.startswith("TLS: the peer's certificate did not verify")
    assert "[(" not in text


def test_another_tls_failure_gives_openssl_s_reason_alone() -> None:
    ssl = pytest.importorskip("OpenSSL.SSL")
    failure = ssl.Error([("SSL routines", "", "wrong version number")])
    assert one_line(failure) == "TLS failed: wrong version number"
