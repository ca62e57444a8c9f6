"""The cluster CA and the certificates apply issues from it."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from hapair import pki

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ca() -> pki.Pair:
    return pki.new_ca("lab", NOW)


def test_a_host_certificate_fits_its_name_and_addresses(ca: pki.Pair) -> None:
    pair = pki.issue(ca, "node1", ("10.54.0.10",), NOW)
    assert pki.unfit(pair.cert, ca, "node1", ("10.54.0.10",), NOW) == ""
    cert = x509.load_pem_x509_certificate(pair.cert.encode())
    ips = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(i) for i in ips.get_values_for_type(x509.IPAddress)} == {"10.54.0.10",
                                                                        "127.0.0.1"}
    assert "PRIVATE KEY" in pair.key and "PRIVATE KEY" not in pair.cert


def test_what_makes_a_certificate_unfit(ca: pki.Pair) -> None:
    pair = pki.issue(ca, "node1", ("10.54.0.10",), NOW)
    assert pki.unfit(pair.cert, ca, "node2", ("10.54.0.10",), NOW) == \
        "issued to another name than node2"
    assert pki.unfit(pair.cert, ca, "node1", ("10.54.0.10", "10.54.0.12"), NOW) == \
        "not valid for 10.54.0.12"
    later = NOW + dt.timedelta(days=pki.CERT_DAYS - 10)
    assert pki.unfit(pair.cert, ca, "node1", ("10.54.0.10",), later).startswith("expires ")
    other = pki.new_ca("other", NOW)
    assert pki.unfit(pair.cert, other, "node1", ("10.54.0.10",), NOW) == "signed by another CA"
    assert pki.unfit("", ca, "node1", (), NOW) == "no valid certificate"


def test_each_certificate_is_for_the_uses_its_service_needs(ca: pki.Pair) -> None:
    """MariaDB's and Apache's are a server's only: whoever reads the mysql
    account's key must not pass for the node's agent with it. One made for
    both uses (an older apply's) is issued again."""
    from cryptography.x509.oid import ExtendedKeyUsageOID as Eku

    def uses(pair: pki.Pair) -> set[object]:
        cert = x509.load_pem_x509_certificate(pair.cert.encode())
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)

    server = pki.issue(ca, "node1", ("10.54.0.10",), NOW, use="server")
    both = pki.issue(ca, "node1", ("10.54.0.10",), NOW)
    assert uses(server) == {Eku.SERVER_AUTH}
    assert uses(both) == {Eku.SERVER_AUTH, Eku.CLIENT_AUTH}
    assert uses(pki.issue(ca, "agent", (), NOW, use="client")) == {Eku.CLIENT_AUTH}
    # A client's only is named as one (no common name: etcd's gateway refuses
    # one when authentication is on).
    named = pki.issue(ca, "agent", (), NOW, use="client")
    cert = x509.load_pem_x509_certificate(named.cert.encode())
    assert not cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    cn_client = pki.issue(ca, "agent", (), NOW)  # a server's name...
    assert pki.unfit(named.cert, ca, "agent", (), NOW, "client") == ""
    assert "not for client use alone" in pki.unfit(cn_client.cert, ca, "agent", (), NOW,
                                                    "client")
    assert pki.unfit(server.cert, ca, "node1", ("10.54.0.10",), NOW, "server") == ""
    assert pki.unfit(both.cert, ca, "node1", ("10.54.0.10",), NOW, "server") == \
        "not for server use alone"
    assert pki.unfit(server.cert, ca, "node1", ("10.54.0.10",), NOW) == \
        "not for server and client use"


def test_a_broken_ca_is_named(ca: pki.Pair) -> None:
    with pytest.raises(pki.PKIError, match="not valid PEM"):
        pki.issue(pki.Pair("junk", ca.key), "node1", (), NOW)


def handshake(ca: pki.Pair, server: pki.Pair, tmp_path: Path, name: str = "127.0.0.1") -> None:
    """A TLS handshake in memory, the client verifying as Python 3.13 does by
    default (VERIFY_X509_STRICT): raises when it refuses the certificate."""
    (tmp_path / "s.crt").write_text(server.cert)
    (tmp_path / "s.key").write_text(server.key)
    srv = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
    cli = ssl.create_default_context(cadata=ca.cert)
    cli.verify_flags |= ssl.VERIFY_X509_STRICT
    bios = [ssl.MemoryBIO() for _ in range(4)]
    s = srv.wrap_bio(bios[0], bios[1], server_side=True)
    c = cli.wrap_bio(bios[2], bios[3], server_hostname=name)
    for _ in range(10):
        for side in (c, s):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        bios[0].write(bios[3].read())  # client -> server
        bios[2].write(bios[1].read())  # server -> client
    assert c.version() is not None


def test_python_3_13s_strict_checks_accept_the_cluster_certificates(ca: pki.Pair,
                                                                     tmp_path: Path) -> None:
    """Python 3.13 verifies strictly by default: a certificate with no
    Authority Key Identifier, or a CA with no Subject Key Identifier, is
    refused (seen: the agents of a Debian 13 lab could not reach each other)."""
    now = dt.datetime.now(dt.UTC)
    fresh = pki.new_ca("lab", now)
    handshake(fresh, pki.issue(fresh, "node1", ("10.54.0.10",), now), tmp_path)


def test_a_certificate_without_key_identifiers_is_issued_again(ca: pki.Pair) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    ca_key = serialization.load_pem_private_key(ca.key.encode(), password=None)
    sans = x509.SubjectAlternativeName([x509.DNSName("node1"),
                                        x509.IPAddress(ipaddress.ip_address("10.54.0.10"))])
    old = (x509.CertificateBuilder().subject_name(x509.Name([
        x509.NameAttribute(x509.NameOID.COMMON_NAME, "node1")])).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(1).not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=300)).add_extension(sans, critical=False)
        .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    pem = old.public_bytes(serialization.Encoding.PEM).decode()
    assert pki.unfit(pem, ca, "node1", ("10.54.0.10",), NOW) == \
        "no Authority Key Identifier (Python 3.13 refuses it)"


def ca_without_key_id(now: dt.datetime) -> pki.Pair:
    """A CA as hapair made them before: no Subject Key Identifier."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "hapair lab CA")])
    usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=100))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True).sign(key, hashes.SHA256()))
    return pki.Pair(cert.public_bytes(serialization.Encoding.PEM).decode(),
                    key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode())


def test_an_old_ca_renewed_with_its_key_keeps_its_certificates_valid(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    old = ca_without_key_id(now)
    leaf = pki.issue(old, "node1", ("10.54.0.10",), now)
    assert pki.lacks_key_id(old)
    with pytest.raises(ssl.SSLCertVerificationError, match="Missing Subject Key Identifier"):
        handshake(old, leaf, tmp_path)
    renewed = pki.with_key_id(old)
    assert not pki.lacks_key_id(renewed) and renewed.key == old.key
    handshake(renewed, leaf, tmp_path)  # issued before the renewal, still valid
    assert pki.unfit(leaf.cert, renewed, "node1", ("10.54.0.10",), now) == ""
