"""Certificates from the cluster CA on a host, issued again only when the one
in place no longer fits (another CA, name or address; expiring): etcd's, and
the agents' API's. Keys are made on the control side, uploaded to root-only
files, never printed."""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Generator
from dataclasses import dataclass
from io import StringIO
from typing import Any

from pyinfra.api.command import FileUploadCommand, StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host

from hapair import pki
from hapair.deploy.facts import FileText
from hapair.deploy.ops import note
from hapair.paths import AGENT_CA


@dataclass(frozen=True)
class Wanted:
    cert_path: str
    key_path: str
    cn: str
    addresses: tuple[str, ...]
    client: bool = False  # a client's certificate only
    owner: str = "root"  # of the key


def upload(text: str, path: str, mode: str, owner: str) -> Generator[Any, None, None]:
    yield StringCommand(f"install -d -m 755 {posixpath.dirname(path)} && install -m {mode} "
                        f"-o {owner} -g {owner} /dev/null {path}")
    yield FileUploadCommand(StringIO(text), path)


def converge(ca: pki.Pair, ca_path: str, wanted: tuple[Wanted, ...], what: str,
             keys: tuple[str, ...]) -> Generator[Any, None, None]:
    """The CA's certificate and each wanted one in place; a note for `keys`
    (the restart they call for) when anything changed."""
    now = dt.datetime.now(dt.UTC)
    changed = []
    if host.get_fact(FileText, path=ca_path).strip() != ca.cert.strip():
        yield from upload(ca.cert, ca_path, "644", "root")
        changed.append("CA")
    for w in wanted:
        why = pki.unfit(host.get_fact(FileText, path=w.cert_path), ca, w.cn, w.addresses, now)
        if why or changed:
            pair = pki.issue(ca, w.cn, w.addresses, now, client=w.client)
            yield from upload(pair.key, w.key_path, "600", w.owner)
            yield from upload(pair.cert, w.cert_path, "644", "root")
            changed.append(f"{w.cn} ({why or 'new CA'})")
    if not changed:
        host.noop(f"{what}: in place and valid")
        return
    yield note(keys)


@operation()
def certificate(ca_cert: str, ca_key: str, cert_path: str, key_path: str, cn: str,
                addresses: tuple[str, ...], what: str, keys: tuple[str, ...],
                owner: str = "root") -> Generator[Any, None, None]:
    """One server certificate from the cluster CA (the agent's API, MariaDB,
    Apache); its key readable by `owner` alone."""
    yield from converge(pki.Pair(ca_cert, ca_key), AGENT_CA,
                        (Wanted(cert_path, key_path, cn, addresses, owner=owner),), what, keys)
