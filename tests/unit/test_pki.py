"""The cluster CA and the certificates apply issues from it."""

from __future__ import annotations

import datetime as dt

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


def test_a_broken_ca_is_named(ca: pki.Pair) -> None:
    with pytest.raises(pki.PKIError, match="not valid PEM"):
        pki.issue(pki.Pair("junk", ca.key), "node1", (), NOW)
