"""Throwaway certificates for local TLS: the rehearsal's, and the tests' (self-signed or from a test CA).

One function issues all of them, so every local TLS setup uses the same key type, clock skew
allowance and PEM encodings: an EC P-256 key, valid from five minutes ago (a node whose clock is
a little behind still accepts it), the key as unencrypted PKCS#8 (what Trino's PEM keystore and
Python's ssl module both read).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class IssuedCertificate(NamedTuple):
    """A certificate and its key, both PEM; unpacks as (certificate, key)."""

    certificate_pem: str
    key_pem: str  # unencrypted PKCS#8


def issue_certificate(
    common_name: str,
    *,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    valid_days: int = 1,
    issuer: IssuedCertificate | None = None,
    certificate_authority: bool = False,
) -> IssuedCertificate:
    """A fresh key and a certificate for it, naming `dns_names` and `ip_addresses` as SANs.

    Without `issuer` the certificate is self-signed (a client trusts it by pinning it); with one,
    that CA signs it and it is marked a TLS server certificate of that CA, so a client that trusts
    only the CA accepts it. `certificate_authority=True` makes a CA that may sign leaves only.
    """
    if valid_days < 1:
        raise ValueError(f"valid_days={valid_days} must be at least 1")
    if issuer is not None and certificate_authority:
        raise ValueError("certificate_authority=True with an issuer: the test CAs here are roots only")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
    )
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if certificate_authority:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    if issuer is None:
        certificate = builder.issuer_name(subject).sign(key, hashes.SHA256())
    else:
        ca_certificate = x509.load_pem_x509_certificate(issuer.certificate_pem.encode())
        ca_key = serialization.load_pem_private_key(issuer.key_pem.encode(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ValueError("issuer.key_pem must be an EC private key (one issue_certificate made)")
        certificate = (
            builder.issuer_name(ca_certificate.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
    return IssuedCertificate(
        certificate.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )
