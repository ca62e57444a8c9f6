"""apply's etcd operations: facts in, commands out (as tests/unit/test_deploy_ops.py)."""

from __future__ import annotations

import datetime as dt
import tarfile
from typing import Any

import pytest
from pyinfra.api.command import FileUploadCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.context import ctx_host

from hapair import pki
from hapair.deploy import etcd_ops
from hapair.deploy.facts import FileText, FileTexts
from hapair.deploy.runner import _hosts
from hapair.paths import ETCD_AGENT_CERT, ETCD_AGENT_KEY, ETCD_CA
from hapair.render import etcd as render
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

NOW = dt.datetime.now(dt.UTC)
CA = pki.new_ca("t", NOW)


class Host:
    name = "node1"

    def __init__(self, texts: dict[str, str], auth: str = "off") -> None:
        self.texts, self.auth, self.noops = texts, auth, []  # type: ignore[var-annotated]

    def get_fact(self, fact: type, **kw: Any) -> Any:
        if fact is FileText:
            return self.texts.get(kw["path"], "")
        if fact is FileTexts:
            return {p: self.texts.get(p, "") for p in kw["paths"]}
        return self.auth

    def noop(self, message: str) -> None:
        self.noops.append(message)


def run(op: Any, host: Host, **kw: Any) -> list[str]:
    """The commands; an archive of files (ops.upload) as an upload per file."""
    out = []
    with ctx_host.use(host):
        for c in op._inner(**kw):
            if isinstance(c, FileUploadCommand) and str(c.dest).endswith("/files.tar"):
                with tarfile.open(fileobj=c.src) as tar:
                    out += [f"upload /{m.name}" for m in tar.getmembers()]
            elif isinstance(c, FileUploadCommand):
                out.append(f"upload {c.dest}")
            else:
                out.append(str(c))
    return out


CERTS = {"ca_cert": CA.cert, "ca_key": CA.key, "cn": "node1", "addresses": ("10.54.0.10",)}


def test_a_fresh_member_gets_the_ca_its_certificate_and_the_agent_s() -> None:
    host = Host({})
    out = run(etcd_ops.certificates, host, agent=True, **CERTS)
    uploads = [c for c in out if c.startswith("upload")]
    assert uploads == [f"upload {ETCD_CA}", f"upload {render.KEY_FILE}",
                       f"upload {render.CERT_FILE}", f"upload {ETCD_AGENT_KEY}",
                       f"upload {ETCD_AGENT_CERT}"]
    assert f"chmod 600 {render.KEY_FILE}.hapair-new && chown etcd:etcd" in out[-1]
    assert "pending/etcd" in out[-1]


def test_fitting_certificates_are_left_alone() -> None:
    member = pki.issue(CA, "node1", ("10.54.0.10",), NOW)
    agent = pki.issue(CA, "agent", (), NOW, use="client")
    host = Host({ETCD_CA: CA.cert, render.CERT_FILE: member.cert, ETCD_AGENT_CERT: agent.cert})
    assert run(etcd_ops.certificates, host, agent=True, **CERTS) == []
    assert host.noops == ["etcd's certificates: in place and valid"]


def test_a_member_certificate_for_another_address_is_issued_again() -> None:
    member = pki.issue(CA, "node1", ("10.54.0.99",), NOW)
    host = Host({ETCD_CA: CA.cert, render.CERT_FILE: member.cert})
    out = run(etcd_ops.certificates, host, agent=False, **CERTS)
    assert f"upload {render.CERT_FILE}" in out and f"upload {ETCD_AGENT_CERT}" not in out


AUTH = {"cluster": "t", "url": "https://127.0.0.1:2379", "root_password": "root-secret-123456",
        "agent_password": "agent-secret-123456"}


def test_authentication_is_turned_on_once_with_no_secret_on_a_command_line() -> None:
    out = run(etcd_ops.authentication, Host({}, auth="off"), **AUTH)
    assert out[1] == f"upload {etcd_ops.SCRIPT}" and "rm -f" in out[2]
    assert not any("secret" in c for c in out)
    host = Host({}, auth="on")
    assert run(etcd_ops.authentication, host, **AUTH) == [] and host.noops


def test_an_etcd_that_does_not_answer_is_a_clear_error() -> None:
    with pytest.raises(OperationError, match="does not answer"):
        run(etcd_ops.authentication, Host({}, auth="down"), **AUTH)


def test_apply_reaches_the_witness_too() -> None:
    pair = load_spec(EXAMPLES / "lab-pair.toml").spec
    assert [h[0] for h in _hosts(pair)] == ["node1", "node2"]
    assert _hosts(load_spec(EXAMPLES / "lab.toml").spec)[-1] == (
        "witness", "10.99.0.12", "root", 22)


def test_a_server_certificate_from_the_cluster_ca_and_its_renewal() -> None:
    """The agent's, MariaDB's and Apache's certificates (cert_ops.certificates):
    one probe, one archive of those that no longer fit, each noting its own
    restart."""
    from hapair.deploy import cert_ops
    from hapair.paths import AGENT_CA, AGENT_CERT, AGENT_KEY, WEB_CERT, WEB_KEY

    web = cert_ops.Wanted(WEB_CERT, WEB_KEY, "booking.example", ("10.54.0.100", "10.54.0.10"))
    agent = cert_ops.Wanted(AGENT_CERT, AGENT_KEY, "node1", ("10.54.0.10",))
    args = {"ca_cert": CA.cert, "ca_key": CA.key,
            "items": ((web, ("apache",)), (agent, ("agent",)))}
    out = run(cert_ops.certificates, Host({}), **args)
    assert [c for c in out if c.startswith("upload")] == [
        f"upload {AGENT_CA}", f"upload {WEB_KEY}", f"upload {WEB_CERT}", f"upload {AGENT_KEY}",
        f"upload {AGENT_CERT}"]
    assert f"chmod 600 {WEB_KEY}.hapair-new" in out[-1]
    assert "pending/agent /var/lib/hapair/pending/apache" in out[-1]
    fits = pki.issue(CA, "booking.example", ("10.54.0.100", "10.54.0.10"), NOW)
    ok = pki.issue(CA, "node1", ("10.54.0.10",), NOW)
    host = Host({AGENT_CA: CA.cert, WEB_CERT: fits.cert, AGENT_CERT: ok.cert})
    assert run(cert_ops.certificates, host, **args) == []
    assert host.noops == ["the TLS certificates: in place and valid"]
    expiring = pki.issue(CA, "booking.example", ("10.54.0.100", "10.54.0.10"),
                         NOW - dt.timedelta(days=pki.CERT_DAYS - 10))
    again = run(cert_ops.certificates,
                Host({AGENT_CA: CA.cert, WEB_CERT: expiring.cert, AGENT_CERT: ok.cert}), **args)
    assert f"upload {WEB_CERT}" in again and f"upload {AGENT_CERT}" not in again
    assert "pending/apache" in again[-1] and "pending/agent" not in again[-1]


def test_gluster_tls_on_a_host_of_the_pool() -> None:
    """Gluster's certificate (named by the host: auth.ssl-allow lets the
    pool's names in), key, CA and the file that turns TLS on for glusterd's
    port, in one archive, owing glusterd's restart; left alone when in place."""
    from hapair.deploy import cert_ops
    from hapair.paths import GLUSTER_CA, GLUSTER_CERT, GLUSTER_KEY
    from hapair.render.gluster import SECURE_ACCESS, SECURE_ACCESS_TEXT

    args = {"ca_cert": CA.cert, "ca_key": CA.key, "cn": "node1",
            "addresses": ("192.168.57.102", "10.54.0.10")}
    out = run(cert_ops.gluster, Host({}), **args)
    assert [c for c in out if c.startswith("upload")] == [
        f"upload {GLUSTER_CA}", f"upload {GLUSTER_KEY}", f"upload {GLUSTER_CERT}",
        f"upload {SECURE_ACCESS}"]
    assert f"chmod 600 {GLUSTER_KEY}.hapair-new" in out[-1] and "pending/glusterd" in out[-1]
    fits = pki.issue(CA, "node1", ("192.168.57.102", "10.54.0.10"), NOW)
    host = Host({GLUSTER_CA: CA.cert, GLUSTER_CERT: fits.cert})
    # TLS still off on glusterd's port: that file alone.
    assert [c for c in run(cert_ops.gluster, host, **args) if c.startswith("upload")] == [
        f"upload {SECURE_ACCESS}"]
    host = Host({GLUSTER_CA: CA.cert, GLUSTER_CERT: fits.cert, SECURE_ACCESS: SECURE_ACCESS_TEXT})
    assert run(cert_ops.gluster, host, **args) == []
    assert host.noops == ["Gluster's TLS: in place and valid"]
