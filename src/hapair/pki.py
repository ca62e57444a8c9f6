"""The cluster's small certificate authority (the `cryptography` library): a
CA made once with the secrets, and from it one certificate per host for etcd
(its members talk TLS to each other and to their clients) and one per agent
as an etcd client. Pure: PEM text in, PEM text out; no files, no clock but
the one passed in."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10
CERT_DAYS = 825  # what browsers and most tools accept for a leaf certificate
RENEW_WITHIN_DAYS = 30  # apply issues a fresh certificate this long before expiry


class PKIError(Exception):
    pass


@dataclass(frozen=True)
class Pair:
    """A certificate and its private key, both PEM."""

    cert: str
    key: str


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hapair")])


def new_ca(cluster: str, now: dt.datetime) -> Pair:
    key = _key()
    name = _name(f"hapair {cluster} CA")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return Pair(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def lacks_key_id(ca: Pair) -> bool:
    """Whether the CA's certificate has no Subject Key Identifier (made before
    hapair added one): Python 3.13 refuses every certificate it signs."""
    cert, _ = _load_ca(ca)
    try:
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return True
    return False


def with_key_id(ca: Pair) -> Pair:
    """The CA's certificate made again with a Subject Key Identifier: the same
    key, name and lifetime, so every certificate it signed stays valid."""
    old, key = _load_ca(ca)
    builder = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(old.issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(old.not_valid_before_utc)
               .not_valid_after(old.not_valid_after_utc))
    for ext in old.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                    critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return Pair(cert.public_bytes(serialization.Encoding.PEM).decode(), ca.key)


def _load_ca(ca: Pair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(ca.cert.encode())
        key = serialization.load_pem_private_key(ca.key.encode(), password=None)
    except ValueError as exc:
        raise PKIError(f"the cluster CA in the secrets file is not valid PEM ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PKIError("the cluster CA's key is not an EC key")
    return cert, key


# What a certificate may be used for: a server's and a client's (an etcd
# member, the agent: each is the other's client), a server's only (MariaDB,
# Apache: whoever reads their key must not pass for the node's agent with it),
# a client's only.
Use = Literal["both", "server", "client"]
USES: dict[Use, tuple[x509.ObjectIdentifier, ...]] = {
    "both": (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
    "server": (ExtendedKeyUsageOID.SERVER_AUTH,),
    "client": (ExtendedKeyUsageOID.CLIENT_AUTH,),
}


def issue(ca: Pair, cn: str, addresses: tuple[str, ...], now: dt.datetime, *,
          use: Use = "both") -> Pair:
    """A certificate for a host, for `use` (USES), valid for its name and
    addresses (and loopback).

    A client's only (use="client") has the name as organizational unit and
    no common name: etcd refuses a common name through its gRPC gateway when
    authentication is on (CVE-2018-16886), and the agents log in by user."""
    client = use == "client"
    ca_cert, ca_key = _load_ca(ca)
    subject = (x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hapair"),
                          x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, cn)])
               if client else _name(cn))
    usage = list(USES[use])
    key = _key()
    ips = sorted({ipaddress.ip_address(a) for a in (*addresses, "127.0.0.1")}, key=str)
    sans: list[x509.GeneralName] = [x509.DNSName(cn), x509.DNSName("localhost")]
    sans += [x509.IPAddress(ip) for ip in ips]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            # Python 3.13 verifies strictly by default: no Authority Key
            # Identifier, no handshake.
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return Pair(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def unfit(cert_pem: str, ca: Pair, cn: str, addresses: tuple[str, ...],
          now: dt.datetime, use: Use = "both") -> str:
    """Why a host's certificate must be issued again ("" if it fits): not
    signed by this CA, another name, an address missing, other uses,
    expiring soon."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        return "no valid certificate"
    ca_cert, _ = _load_ca(ca)
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return "signed by another CA"
    try:
        cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return "no Authority Key Identifier (Python 3.13 refuses it)"
    names = (cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
             or cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME))
    if not names or names[0].value != cn:
        return f"issued to another name than {cn}"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "no addresses in it"
    have = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    missing = sorted(set(addresses) - have)
    if missing:
        return f"not valid for {', '.join(missing)}"
    try:
        uses = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        uses = set()
    if uses != set(USES[use]):
        return f"not for {use} use alone" if use != "both" else "not for server and client use"
    if use == "client" and cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        return "a client's with a common name (etcd's gateway refuses it)"
    if cert.not_valid_after_utc - now < dt.timedelta(days=RENEW_WITHIN_DAYS):
        return f"expires {cert.not_valid_after_utc:%Y-%m-%d}"
    return ""

