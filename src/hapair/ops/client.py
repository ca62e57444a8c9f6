"""Talking to the node agents from the operator's machine (or, for a lab,
from inside the lab's control point: the host's own namespace has no route
to lab addresses)."""

from __future__ import annotations

import ctypes
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import IO, Any

from hapair import tls
from hapair.model.status import NodeStatus
from hapair.model.status import read as read_status
from hapair.secrets import read_token
from hapair.spec.models import ClusterSpec, Node

CLONE_NEWNET = 0x40000000


class AgentError(Exception):
    pass


#: the network namespace this process started in, kept open by enter_netns
#: (a child that must reach what the host reaches goes back to it: `enter_fd`)
HOST_NETNS: list[int] = []


def enter_fd(fd: int, name: str = "the host's") -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise AgentError(f"cannot enter network namespace {name}: "
                         f"{os.strerror(ctypes.get_errno())}")


def enter_netns(name: str) -> None:
    """Move this process into a named network namespace (before any thread)."""
    if not HOST_NETNS:
        HOST_NETNS.append(os.open("/proc/self/ns/net", os.O_RDONLY))
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        enter_fd(fd, name)
    finally:
        os.close(fd)


class Agents:
    """The agents over TLS, their certificates checked against the cluster CA
    (`ca_pem`, from the secrets file); status read with the read-only
    credential derived from `token`, changes made with the token."""

    def __init__(self, spec: ClusterSpec, token: str, ca_pem: str, timeout: float = 3.0):
        self.spec = spec
        self.token = token
        self.tls = tls.client_context(ca_pem=ca_pem)
        self.timeout = timeout

    def url(self, node: Node, path: str) -> str:
        return f"https://{node.ssh}:{self.spec.agent.port}{path}"

    def status(self, node: Node) -> NodeStatus:
        req = urllib.request.Request(self.url(node, "/status"), headers={
            "Authorization": f"Bearer {read_token(self.token)}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.tls) as r:
                doc, notes = read_status(json.load(r))
        except urllib.error.HTTPError as exc:
            # Something answers, but not a hapair agent's status: say what it said.
            return NodeStatus(node.name, None, f"HTTP {exc.code} {exc.reason} from "
                              f"{self.url(node, '/status')} (is that a hapair agent?)")
        except (OSError, ValueError) as exc:
            return NodeStatus(node.name, None,
                              f"agent unreachable ({getattr(exc, 'reason', exc)})")
        return NodeStatus(node.name, doc, "", tuple(notes))

    def statuses(self) -> list[NodeStatus]:
        with ThreadPoolExecutor(len(self.spec.nodes)) as pool:
            return list(pool.map(self.status, self.spec.nodes))

    @contextmanager
    def stream(self, node: Node, path: str, timeout: float = 60.0) -> Iterator[IO[bytes]]:
        """A GET whose answer is read as a stream (/backup, /files), with the token."""
        req = urllib.request.Request(self.url(node, path),
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.tls) as r:
                yield r
        except urllib.error.HTTPError as exc:
            raise AgentError(f"{node.name}: {path} answered HTTP {exc.code}") from None
        except OSError as exc:
            raise AgentError(f"{node.name}: {path}: {getattr(exc, 'reason', exc)}") from None

    def post(self, node: Node, path: str, body: dict[str, Any] | None = None,
             timeout: float = 40.0) -> dict[str, Any]:
        req = urllib.request.Request(
            self.url(node, path), data=json.dumps(body or {}).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        return self._answer(node, req, timeout)

    def upload(self, node: Node, path: str, data: IO[bytes], length: int,
               headers: dict[str, str], timeout: float = 600.0) -> dict[str, Any]:
        """A POST whose body is a stream (a restore's backup), with the token."""
        req = urllib.request.Request(
            self.url(node, path), data=data, method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Length": str(length),
                     "Content-Type": "application/octet-stream", **headers})
        return self._answer(node, req, timeout)

    def _answer(self, node: Node, req: urllib.request.Request, timeout: float
                ) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.tls) as r:
                return dict(json.load(r))
        except urllib.error.HTTPError as exc:
            try:
                said = json.loads(exc.read()).get("error", "")
            except ValueError:
                said = ""
            raise AgentError(f"{node.name}: {said or exc.reason} (HTTP {exc.code})") from None
        except OSError as exc:
            raise AgentError(f"{node.name}: agent unreachable "
                             f"({getattr(exc, 'reason', exc)})") from None
