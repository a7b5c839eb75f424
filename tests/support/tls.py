"""
Certificates for TLS tests.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import ssl


def self_signed(hostname: str) -> tuple[ssl.PrivateCertificate, ssl.Certificate]:
    """
    A certificate for ``hostname`` and its key.

    The name goes in a subjectAltName: ``KeyPair.selfSignedCert`` only sets
    the subject's CN, and the Twisted release this was written against
    (26.10) skips the hostname check, logging an error, for a certificate
    without a subjectAltName, so a test using it could not fail.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (
        ssl.PrivateCertificate.loadPEM(cert_pem + key_pem),
        ssl.Certificate.loadPEM(cert_pem),
    )


def write_self_signed(directory: Path, who: str, hostname: str) -> tuple[str, str]:
    """
    Write ``<who>.pem`` (a key and its certificate for ``hostname``) and
    ``<who>-ca.pem`` (the certificate alone: self-signed, it is its own
    root) into ``directory``; their paths.
    """
    private, public = self_signed(hostname)
    identity, root = directory / f"{who}.pem", directory / f"{who}-ca.pem"
    identity.write_bytes(private.dumpPEM())
    root.write_bytes(public.dumpPEM())
    return str(identity), str(root)
