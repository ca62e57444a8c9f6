"""The agent's HTTP interface on every node.

It listens on the node's own addresses over TLS (its certificate from the
cluster CA), and on loopback in plain HTTP for keepalived's check and local
tools; never on the VIP or other addresses.

Open to all who reach it, for keepalived, load balancers and Prometheus:
/alive (the loop turns: keepalived's backstop check), /health (may hold the
VIP), /primary, /replica (200 or 503), /metrics, and /status in summary (who
is what, no positions, errors or history).
The read-only credential (Bearer, derived from the API token: the operator's
status, monitoring) reads /status in full, and (as a Basic password, for
browsers) the status page on /; the agents poll each other with a
credential of their own (secrets.peer_token), the only one whose polls count
as the peer's sign of life.
Changes need the API token itself: POST /fence, /switchover, /pause, /resume,
/maintenance, /degrade, /reboot, /restart-in-place, /restore, and GET /backup,
/files and /binlogs (the data itself)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from hapair.agent.api.handler import IDLE_S, handler
from hapair.agent.api.routes import Served

# Idle and slow connections are cut after IDLE_S; at most MAX_REMOTE remote
# connections are served at once (more are closed at once), while loopback
# (keepalived's check of /alive) and the peer (its polls keep the pair's
# leases) are always served: a flood of idle connections from anywhere else
# must never make this node look unhealthy or silent.
MAX_REMOTE = 32


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler_class: Any,
                 tls: ssl.SSLContext | None = None, trusted: frozenset[str] = frozenset()
                 ) -> None:
        self.tls = tls
        self.trusted = trusted  # addresses always served, as loopback is
        super().__init__(address, handler_class)
        self.remote: set[int] = set()  # the remote connections being served
        self.remote_lock = threading.Lock()

    def server_bind(self) -> None:
        # An address not up yet (its link comes later at boot) is bound anyway.
        self.socket.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_FREEBIND", 15), 1)
        super().server_bind()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """The TLS handshake in the connection's own thread, under its
        timeout: a slow or silent client never holds up the others."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(IDLE_S)
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # not TLS, or too slow: closed by shutdown_request
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def local(self, client_address: Any) -> bool:
        """Served whatever else is connected: loopback, and the peer."""
        return (client_address[0] in self.trusted
                or ipaddress.ip_address(client_address[0]).is_loopback)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.local(client_address):
            with self.remote_lock:
                full = len(self.remote) >= MAX_REMOTE
                if not full:
                    self.remote.add(id(request))
            if full:
                self.shutdown_request(request)  # closed at once, never queued
                return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.remote_lock:
            self.remote.discard(id(request))
        super().shutdown_request(request)


def serve(agent: Served, host: str, port: int,
          tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    trusted = frozenset(agent.cfg.peer_addresses.values())
    return Server((host, port), handler(agent), tls, trusted)
