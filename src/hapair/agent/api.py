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

import contextlib
import hmac
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from hapair.agent import backup_stream, restore, ui
from hapair.agent.commands import command
from hapair.agent.db import Database, Endpoint
from hapair.agent.guard import alive
from hapair.agent.publish import endpoint_verdict, summary
from hapair.secrets import peer_token, read_token

if TYPE_CHECKING:
    from hapair.agent.loop import Agent

log = logging.getLogger("hapair.agent")


# Idle and slow connections are cut after IDLE_S; at most MAX_REMOTE remote
# connections are served at once (more are closed at once), while loopback
# (keepalived's check of /alive) and the peer (its polls keep the pair's
# leases) are always served: a flood of idle connections from anywhere else
# must never make this node look unhealthy or silent.
IDLE_S = 5.0
MAX_REMOTE = 32
MAX_BODY = 64 * 1024


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


def serve(agent: Agent, host: str, port: int,
          tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    trusted = frozenset(agent.cfg.peer_addresses.values())
    return Server((host, port), handler(agent), tls, trusted)


def handler(agent: Agent) -> type[BaseHTTPRequestHandler]:
    reader, poller = read_token(agent.token), peer_token(agent.token)
    peer_addresses = frozenset(agent.cfg.peer_addresses.values())

    class Handler(BaseHTTPRequestHandler):
        server_version = "hapair-agent"
        timeout = IDLE_S  # the socket's: an idle or slow client is cut
        deadline: threading.Timer | None = None

        def handle_one_request(self) -> None:
            """A request is read within IDLE_S in all, not per read: a client
            sending one header byte every few seconds held a remote slot for
            as long as it liked. Streams (a backup, a restore) are answered
            or read after that, under the socket's own timeout."""
            self.deadline = threading.Timer(IDLE_S, self._too_slow)
            self.deadline.daemon = True
            self.deadline.start()
            try:
                super().handle_one_request()
            finally:
                self._read()

        def _too_slow(self) -> None:
            with contextlib.suppress(OSError):  # gone already
                self.connection.shutdown(socket.SHUT_RDWR)

        def _read(self) -> None:
            """The request is in: its deadline is over."""
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None

        def parse_request(self) -> bool:
            ok = super().parse_request()
            if self.command != "POST":
                self._read()  # nothing more to read
            return ok

        def _authed(self) -> bool:
            """The API token itself: for changes and the data."""
            given = self.headers.get("Authorization", "")
            return hmac.compare_digest(given.encode(), f"Bearer {agent.token}".encode())

        def _may_read(self) -> bool:
            """The read-only credential, the agents' own, or the API token."""
            given = self.headers.get("Authorization", "").encode()
            return (hmac.compare_digest(given, f"Bearer {reader}".encode())
                    or self._from_peer_agent() or self._authed())

        def _from_peer_agent(self) -> bool:
            """A poll by the peer's agent: its own credential, from one of its
            addresses, naming it. Only such a poll is a sign of the peer's
            life (the read-only credential is the monitoring's too)."""
            given = self.headers.get("Authorization", "").encode()
            return (hmac.compare_digest(given, f"Bearer {poller}".encode())
                    and self.client_address[0] in peer_addresses
                    and self.headers.get("X-Hapair-Node") == agent.cfg.peer)

        def _may_see(self) -> bool:
            """The page: either as a Basic password (a browser), or as _may_read."""
            password = ui.basic_password(self.headers.get("Authorization", ""))
            if password is None:
                return self._may_read()
            return any(hmac.compare_digest(password.encode(), c.encode())
                       for c in (reader, agent.token))

        def _send(self, code: int, body: Any, ctype: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            data = (json.dumps(body, indent=1) + "\n").encode() if ctype.endswith("json") \
                else body if isinstance(body, bytes) else str(body).encode()
            try:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                self.close_connection = True  # the asker gave up waiting

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            if path == "/status":
                if not self._may_read():
                    self._send(200, summary(agent.status().model_dump(mode="json")))
                    return
                peer = self._from_peer_agent()
                if peer:
                    agent.contact.seen(time.monotonic())
                doc = agent.status()
                self._send(200, doc.model_dump(mode="json"))
                if peer and doc.stopping:
                    agent.stop_read = True  # sent: the peer knows (agent/stopping.py)
            elif path == "/alive":
                ok, why = alive(agent, time.monotonic())
                self._send(200 if ok else 503, why, "text/plain")
            elif path in ("/health", "/primary", "/replica"):
                ok, why = endpoint_verdict(path[1:], agent.view, agent.decision)
                self._send(200 if ok else 503, why + "\n", "text/plain")
            elif path in ("/", "/ui"):
                if not self._may_see():
                    self._send(401, "the status page needs the read-only credential as the "
                               "password (`hapair secrets read-token`)\n", "text/plain",
                               {"WWW-Authenticate": f'Basic realm="hapair {agent.cfg.cluster}"'})
                    return
                self._send(200, ui.html(agent), "text/html; charset=utf-8", ui.HEADERS)
            elif path == "/metrics":
                body, ctype = agent.metrics.render()
                self._send(200, body, ctype)
            elif path in ("/backup", "/files", "/binlogs") or path.startswith("/binlogs/"):
                if not self._authed():
                    self._send(401, {"error": "a valid API token is required"})
                    return
                if path == "/files":
                    backup_stream.send_files(self, agent.cfg.static_dir)
                elif path == "/binlogs":
                    self._send(200, restore.binlogs())
                elif path.startswith("/binlogs/"):
                    start = parse_qs(urlsplit(self.path).query).get("from", ["0"])[0]
                    if not start.isdigit():
                        self._send(400, {"error": "from= is a byte offset"})
                        return
                    restore.send_binlog(self, agent.datadir, path.removeprefix("/binlogs/"),
                                        int(start))
                else:
                    self._backup()
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?")[0] == "/restore":  # a stream, not a JSON object
                if not self._authed():
                    # A small body is read (over TLS an answer to an unread one is
                    # lost); a large one from a stranger is not: the reset says no.
                    restore.discard(self, MAX_BODY)
                    self.close_connection = True
                    self._send(401, {"error": "a valid API token is required"})
                    return
                self._read()  # the stream is read under the socket's timeout
                self._send(*restore.receive(self, agent))
                return
            # The body is read before any answer: a reply over TLS to a
            # request whose body is still unread is lost in the reset.
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_BODY:
                    self._send(413, {"error": f"a body is at most {MAX_BODY} bytes"})
                    return
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                self._read()
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                self._send(400, {"error": "the body is not a JSON object"})
                return
            if not self._authed():
                self._send(401, {"error": "a valid API token is required"})
                return
            path = self.path.split("?")[0]
            try:
                code, answer = command(agent, path.strip("/"), body)
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                log.exception("command %s failed", path)
                code, answer = 500, {"error": str(exc)}
            self._send(code, answer)

        def _backup(self) -> None:
            if not agent.backup_lock.acquire(blocking=False):
                self._send(409, {"error": "a backup is already being streamed"})
                return
            try:
                backup_stream.send(self, Database(Endpoint(agent.cfg.admin_user,
                                                           agent.admin_password)))
            finally:
                agent.backup_lock.release()

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler
