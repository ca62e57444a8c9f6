"""TLS of the agents' API: the server's context (its certificate from the
cluster CA) and the clients' (the peer's and the operator's), which check the
server's certificate against that CA and its address. Nothing else: the
files come from apply, the CA's text from the secrets file."""

from __future__ import annotations

import ssl


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def client_context(*, ca_file: str | None = None, ca_pem: str | None = None) -> ssl.SSLContext:
    """Verifies the agent's certificate against the cluster CA (and its
    address: certificates name the node's addresses)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file, cadata=ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx
