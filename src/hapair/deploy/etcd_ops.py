"""pyinfra operations for the witness's etcd: certificates from the cluster
CA (issued again only when the one in place no longer fits), and
authentication turned on once, by etcd's own API, with every secret in a
root-only file removed at once, never on a command line."""

from __future__ import annotations

import shlex
from collections.abc import Generator, Iterable
from io import StringIO
from typing import Any

from pyinfra.api.command import FileUploadCommand, StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host

from hapair import pki
from hapair.deploy.cert_ops import Wanted, converge
from hapair.paths import ETCD_AGENT_CERT, ETCD_AGENT_KEY, ETCD_CA
from hapair.render import etcd as render

SCRIPT = "/root/.hapair-etcd-auth.sh"
WAIT_S = 60  # for the members to find each other and answer


class EtcdAuthState(FactBase[str]):
    """"off" when etcd serves an anonymous user list (authentication off),
    "on" when it refuses it, "down" when it does not answer within WAIT_S."""

    @staticmethod
    def default() -> str:
        return "down"

    def command(self, url: str) -> str:
        probe = (f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 --cacert {render.CA_FILE} "
                 f"--cert {render.CERT_FILE} --key {render.KEY_FILE} -X POST -d '{{}}' "
                 f"{shlex.quote(url)}/v3/auth/user/list")
        return (f"for i in $(seq {WAIT_S}); do c=$({probe}); "
                'case "$c" in 200) echo off; exit 0;; 000) sleep 1;; *) echo on; exit 0;; esac; '
                "done; echo down")

    def process(self, output: Iterable[str]) -> str:
        return "\n".join(output).strip()


@operation()
def certificates(ca_cert: str, ca_key: str, cn: str, addresses: tuple[str, ...],
                 agent: bool) -> Generator[Any, None, None]:
    """The member's certificate (and, on a node, the agent's client one)."""
    wanted = [Wanted(render.CERT_FILE, render.KEY_FILE, cn, addresses, owner="etcd")]
    if agent:
        wanted.append(Wanted(ETCD_AGENT_CERT, ETCD_AGENT_KEY, "agent", (), use="client"))
    yield from converge(pki.Pair(ca_cert, ca_key), ETCD_CA,
                        tuple((w, ("etcd",)) for w in wanted), "etcd's certificates")


@operation()
def authentication(cluster: str, url: str, root_password: str,
                   agent_password: str) -> Generator[Any, None, None]:
    """etcd's root, a role for /hapair/<cluster>/, the agents' user, and
    authentication on: once; an etcd where it is on already is left alone."""
    state = host.get_fact(EtcdAuthState, url=url)
    if state == "on":
        host.noop("etcd's authentication is on")
        return
    if state == "down":
        raise OperationError(f"etcd does not answer at {url} after {WAIT_S}s (do the three "
                             "members reach each other on the public network?)")
    script = render.curl_script(render.curl(url),
                                render.auth_calls(cluster, root_password, agent_password))
    yield StringCommand(f"install -m 600 /dev/null {SCRIPT}")
    yield FileUploadCommand(StringIO(script), SCRIPT)
    yield StringCommand(f"sh {SCRIPT} >/dev/null; rc=$?; rm -f {SCRIPT}; exit $rc")
