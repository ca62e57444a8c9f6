"""A private single-member etcd with TLS (certificates from hapair's own
CA code) and authentication turned on by hapair's own bootstrap script: the
same calls apply makes on a cluster's first member."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hapair import pki
from hapair.agent.node.dcs import EtcdAccess
from hapair.render import etcd as render
from tests.support.servers import free_port, wait_port

ROOT_PASSWORD = "root-password-for-tests"
AGENT_PASSWORD = "agent-password-for-tests"


@dataclass(frozen=True)
class EtcdServer:
    url: str
    access: EtcdAccess  # the agents' user
    curl: str  # curl with this server's client certificate, for raw API calls


@contextmanager
def etcd_server(tmp: Path, cluster: str = "t") -> Iterator[EtcdServer]:
    now = dt.datetime.now(dt.UTC)
    ca = pki.new_ca(cluster, now)
    host = pki.issue(ca, "member", ("127.0.0.1",), now)
    agent = pki.issue(ca, "agent", ("127.0.0.1",), now, use="client")
    files = {"ca.crt": ca.cert, "host.crt": host.cert, "host.key": host.key,
             "agent.crt": agent.cert, "agent.key": agent.key}
    for name, text in files.items():
        (tmp / name).write_text(text)
        os.chmod(tmp / name, 0o600)
    port, peer = free_port(), free_port()
    url = f"https://127.0.0.1:{port}"
    tls = {"--cert-file": "host.crt", "--key-file": "host.key", "--trusted-ca-file": "ca.crt",
           "--peer-cert-file": "host.crt", "--peer-key-file": "host.key",
           "--peer-trusted-ca-file": "ca.crt"}
    args = ["etcd", "--name", "member", "--data-dir", str(tmp / "data"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", f"https://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"https://127.0.0.1:{peer}",
            "--initial-cluster", f"member=https://127.0.0.1:{peer}",
            "--client-cert-auth", "--peer-client-cert-auth", "--log-level", "warn",
            *[x for k, v in tls.items() for x in (k, str(tmp / v))]]
    log = (tmp / "etcd.log").open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, "etcd")
        curl = render.curl(url, str(tmp / "ca.crt"), str(tmp / "host.crt"),
                           str(tmp / "host.key"))
        script = render.curl_script(curl, render.auth_calls(cluster, ROOT_PASSWORD,
                                                            AGENT_PASSWORD))
        subprocess.run(["sh", "-c", script], check=True, capture_output=True, timeout=30)
        yield EtcdServer(url, EtcdAccess((url,), str(tmp / "ca.crt"), str(tmp / "agent.crt"),
                                         str(tmp / "agent.key"), render.AGENT_USER,
                                         AGENT_PASSWORD), curl)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
