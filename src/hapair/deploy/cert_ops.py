"""Certificates from the cluster CA on a host, issued again only when the one
in place no longer fits (another CA, name or address; expiring): etcd's, and
the agents' API's. Keys are made on the control side, uploaded to root-only
files, never printed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pyinfra.api.operation import operation
from pyinfra.context import host

from hapair import pki
from hapair.deploy.facts import FileTexts
from hapair.deploy.ops import FileSpec, upload
from hapair.paths import AGENT_CA, GLUSTER_CA, GLUSTER_CERT, GLUSTER_KEY
from hapair.render.gluster import SECURE_ACCESS, SECURE_ACCESS_TEXT
from hapair.secrets import ClusterCA, Secrets


def cluster_ca(secrets: Secrets) -> ClusterCA:
    """The cluster CA of the secrets file, for the certificates an apply issues."""
    if secrets.pki is None:
        raise ValueError("the secrets file has no [pki] table (the cluster CA, for the agents' "
                         "and Gluster's TLS): run `hapair secrets ca SECRETS SPEC` (nothing was "
                         "changed)")
    return secrets.pki


@dataclass(frozen=True)
class Wanted:
    cert_path: str
    key_path: str
    cn: str
    addresses: tuple[str, ...]
    owner: str = "root"  # of the key
    use: pki.Use = "both"  # "server" for a service that is never a client


def converge(ca: pki.Pair, ca_path: str, items: tuple[tuple[Wanted, tuple[str, ...]], ...],
             what: str, also: tuple[FileSpec, ...] = ()) -> Generator[Any, None, None]:
    """The CA's certificate and each wanted one in place, each with the
    restarts its change calls for (keys), and also the files given (put when
    their text differs). One probe for all, and one upload of those that no
    longer fit (three round trips)."""
    have = host.get_fact(FileTexts, paths=(ca_path, *(w.cert_path for w, _ in items),
                                           *(f.path for f in also)))
    now = dt.datetime.now(dt.UTC)
    new_ca = have.get(ca_path, "").strip() != ca.cert.strip()
    files = [FileSpec(ca_path, ca.cert.encode(), 0o644, ())] if new_ca else []
    for w, keys in items:
        why = pki.unfit(have.get(w.cert_path, ""), ca, w.cn, w.addresses, now, w.use)
        if why or new_ca:
            pair = pki.issue(ca, w.cn, w.addresses, now, use=w.use)
            files += [FileSpec(w.key_path, pair.key.encode(), 0o600, keys, w.owner),
                      FileSpec(w.cert_path, pair.cert.encode(), 0o644, keys)]
    files += [f for f in also if have.get(f.path, "") != f.content.decode()]
    if not files:
        host.noop(f"{what}: in place and valid")
        return
    yield from upload(files)


@operation()
def certificates(ca_cert: str, ca_key: str, items: tuple[tuple[Wanted, tuple[str, ...]], ...],
                 ) -> Generator[Any, None, None]:
    """Server certificates from the cluster CA (the agent's API, MariaDB,
    Apache); each key readable by its owner alone."""
    yield from converge(pki.Pair(ca_cert, ca_key), AGENT_CA, items, "the TLS certificates")


@operation()
def gluster(ca_cert: str, ca_key: str, cn: str, addresses: tuple[str, ...],
            ) -> Generator[Any, None, None]:
    """Gluster's TLS on a host of its pool: its certificate (named by the host,
    the name `auth.ssl-allow` lets in), key and CA, and the file that turns
    TLS on for glusterd's own port; each change owes glusterd's restart."""
    wanted = Wanted(GLUSTER_CERT, GLUSTER_KEY, cn, addresses)
    on = FileSpec(SECURE_ACCESS, SECURE_ACCESS_TEXT.encode(), 0o644, ("glusterd",))
    yield from converge(pki.Pair(ca_cert, ca_key), GLUSTER_CA, ((wanted, ("glusterd",)),),
                        "Gluster's TLS", also=(on,))
