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
import enum
import hmac
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from hapair.agent.api import restore, ui
from hapair.agent.api.commands import NAMES, Commanded, command
from hapair.agent.api.publish import endpoint_verdict, summary
from hapair.agent.guard import Turning, alive
from hapair.agent.node import backup_stream
from hapair.agent.node.db import Database, Endpoint
from hapair.secrets import peer_token, read_token

if TYPE_CHECKING:
    from hapair.agent.core.actions import Decision
    from hapair.agent.node.metrics import Metrics

log = logging.getLogger("hapair.agent")


class Served(Commanded, restore.Restorable, ui.Shown, Turning, Protocol):
    """What the API reads and touches of the agent, itself and through the
    commands, a restore, the page and the liveness check it serves."""

    token: str
    admin_password: str
    backup_lock: threading.Lock
    metrics: Metrics
    decision: Decision | None
    stop_read: bool


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


def serve(agent: Served, host: str, port: int,
          tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    trusted = frozenset(agent.cfg.peer_addresses.values())
    return Server((host, port), handler(agent), tls, trusted)


class Access(enum.Enum):
    """Who may ask for a route."""

    ANYONE = "anyone"  # keepalived, load balancers, Prometheus
    READ = "read"  # the read-only credential, the peer's agent, or the API token
    PAGE = "page"  # as READ, or either credential as a browser's Basic password
    TOKEN = "token"  # the API token itself: changes, and the data


@dataclass(frozen=True)
class Route:
    """What a route answers, and to whom. body: a JSON object is read first
    (a POST's). refused: what someone without the access gets (the default:
    401)."""

    access: Access
    run: Callable[[Handler, str, dict[str, Any]], None]
    body: bool = False
    refused: Callable[[Handler], None] | None = None


def _status(h: Handler, path: str, body: dict[str, Any]) -> None:
    peer = h.from_peer_agent()
    if peer:
        h.agent.contact.seen(time.monotonic())
    doc = h.agent.status()
    h.send(200, doc.model_dump(mode="json"))
    if peer and doc.stopping:
        h.agent.stop_read = True  # sent: the peer knows (agent/stopping.py)


def _status_summary(h: Handler) -> None:
    h.send(200, summary(h.agent.status().model_dump(mode="json")))


def _alive(h: Handler, path: str, body: dict[str, Any]) -> None:
    ok, why = alive(h.agent, time.monotonic())
    h.send(200 if ok else 503, why, "text/plain")


def _endpoint(h: Handler, path: str, body: dict[str, Any]) -> None:
    ok, why = endpoint_verdict(path[1:], h.agent.view, h.agent.decision)
    h.send(200 if ok else 503, why + "\n", "text/plain")


def _page(h: Handler, path: str, body: dict[str, Any]) -> None:
    h.send(200, ui.html(h.agent), "text/html; charset=utf-8", ui.HEADERS)


def _page_refused(h: Handler) -> None:
    h.send(401, "the status page needs the read-only credential as the password "
           "(`hapair secrets read-token`)\n", "text/plain",
           {"WWW-Authenticate": f'Basic realm="hapair {h.agent.cfg.cluster}"'})


def _metrics(h: Handler, path: str, body: dict[str, Any]) -> None:
    data, ctype = h.agent.metrics.render()
    h.send(200, data, ctype)


def _files(h: Handler, path: str, body: dict[str, Any]) -> None:
    backup_stream.send_files(h, h.agent.cfg.static_dir)


def _binlogs(h: Handler, path: str, body: dict[str, Any]) -> None:
    h.send(200, restore.binlogs())


def _binlog(h: Handler, path: str, body: dict[str, Any]) -> None:
    start = parse_qs(urlsplit(h.path).query).get("from", ["0"])[0]
    if not start.isdigit():
        h.send(400, {"error": "from= is a byte offset"})
        return
    restore.send_binlog(h, h.agent.datadir, path.removeprefix("/binlogs/"), int(start))


def _backup(h: Handler, path: str, body: dict[str, Any]) -> None:
    agent = h.agent
    if not agent.backup_lock.acquire(blocking=False):
        h.send(409, {"error": "a backup is already being streamed"})
        return
    try:
        backup_stream.send(h, Database(Endpoint(agent.cfg.admin_user, agent.admin_password)))
    finally:
        agent.backup_lock.release()


def _restore(h: Handler, path: str, body: dict[str, Any]) -> None:
    h.request_read()  # the stream is read under the socket's timeout
    h.send(*restore.receive(h, h.agent))


def _restore_refused(h: Handler) -> None:
    # A small body is read (over TLS an answer to an unread one is lost); a
    # large one from a stranger is not: the reset says no.
    restore.discard(h, MAX_BODY)
    h.close_connection = True
    h.send(401, {"error": "a valid API token is required"})


def _command(h: Handler, path: str, body: dict[str, Any]) -> None:
    try:
        code, answer = command(h.agent, path.strip("/"), body)
    except Exception as exc:  # noqa: BLE001 - report, keep serving
        log.exception("command %s failed", path)
        code, answer = 500, {"error": str(exc)}
    h.send(code, answer)


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/status"): Route(Access.READ, _status, refused=_status_summary),
    ("GET", "/alive"): Route(Access.ANYONE, _alive),
    **{("GET", p): Route(Access.ANYONE, _endpoint) for p in ("/health", "/primary", "/replica")},
    **{("GET", p): Route(Access.PAGE, _page, refused=_page_refused) for p in ("/", "/ui")},
    ("GET", "/metrics"): Route(Access.ANYONE, _metrics),
    ("GET", "/backup"): Route(Access.TOKEN, _backup),
    ("GET", "/files"): Route(Access.TOKEN, _files),
    ("GET", "/binlogs"): Route(Access.TOKEN, _binlogs),
    ("GET", "/binlogs/"): Route(Access.TOKEN, _binlog),  # a prefix: /binlogs/NAME?from=N
    ("POST", "/restore"): Route(Access.TOKEN, _restore, refused=_restore_refused),
    **{("POST", f"/{c}"): Route(Access.TOKEN, _command, body=True) for c in NAMES},
}


def route_of(method: str, path: str) -> Route | None:
    """The route for a request's path (its query left off): exact, or
    under a prefix that ends in a slash."""
    found = ROUTES.get((method, path))
    if found is None and path.count("/") > 1:
        found = ROUTES.get((method, path[:path.index("/", 1) + 1]))
    return found


def handler(agent: Served) -> type[Handler]:
    class Bound(Handler):
        pass

    Bound.agent = agent
    Bound.reader, Bound.poller = read_token(agent.token), peer_token(agent.token)
    Bound.peer_addresses = frozenset(agent.cfg.peer_addresses.values())
    return Bound


class Handler(BaseHTTPRequestHandler):
    """The HTTP plumbing (deadlines, credentials, answers); what each path
    does is ROUTES'."""

    server_version = "hapair-agent"
    timeout = IDLE_S  # the socket's: an idle or slow client is cut
    deadline: threading.Timer | None = None
    agent: Served
    reader: str
    poller: str
    peer_addresses: frozenset[str]

    def handle_one_request(self) -> None:
        """A request is read within IDLE_S in all, not per read: a client
        sending one header byte every few seconds held a remote slot for as
        long as it liked. Streams (a backup, a restore) are answered or read
        after that, under the socket's own timeout."""
        self.deadline = threading.Timer(IDLE_S, self._too_slow)
        self.deadline.daemon = True
        self.deadline.start()
        try:
            super().handle_one_request()
        finally:
            self.request_read()

    def _too_slow(self) -> None:
        with contextlib.suppress(OSError):  # gone already
            self.connection.shutdown(socket.SHUT_RDWR)

    def request_read(self) -> None:
        """The request is in: its deadline is over."""
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if self.command != "POST":
            self.request_read()  # nothing more to read
        return ok

    # ---- credentials ----------------------------------------------------------------
    def _bearer(self) -> bytes:
        return self.headers.get("Authorization", "").encode()

    def authed(self) -> bool:
        """The API token itself: for changes and the data."""
        return hmac.compare_digest(self._bearer(), f"Bearer {self.agent.token}".encode())

    def may_read(self) -> bool:
        """The read-only credential, the agents' own, or the API token."""
        return (hmac.compare_digest(self._bearer(), f"Bearer {self.reader}".encode())
                or self.from_peer_agent() or self.authed())

    def from_peer_agent(self) -> bool:
        """A poll by the peer's agent: its own credential, from one of its
        addresses, naming it. Only such a poll is a sign of the peer's life
        (the read-only credential is the monitoring's too)."""
        return (hmac.compare_digest(self._bearer(), f"Bearer {self.poller}".encode())
                and self.client_address[0] in self.peer_addresses
                and self.headers.get("X-Hapair-Node") == self.agent.cfg.peer)

    def may_see(self) -> bool:
        """The page: either as a Basic password (a browser), or as may_read."""
        password = ui.basic_password(self.headers.get("Authorization", ""))
        if password is None:
            return self.may_read()
        return any(hmac.compare_digest(password.encode(), c.encode())
                   for c in (self.reader, self.agent.token))

    def allowed(self, access: Access) -> bool:
        return {Access.ANYONE: lambda: True, Access.READ: self.may_read,
                Access.PAGE: self.may_see, Access.TOKEN: self.authed}[access]()

    # ---- answers --------------------------------------------------------------------
    def send(self, code: int, body: Any, ctype: str = "application/json",
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

    def _json_body(self) -> dict[str, Any] | None:
        """A POST's JSON object, read before any answer (a reply over TLS to
        a request whose body is still unread is lost in the reset); None
        once a 4xx has been sent."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                self.send(413, {"error": f"a body is at most {MAX_BODY} bytes"})
                return None
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            self.request_read()
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError:
            self.send(400, {"error": "the body is not a JSON object"})
            return None
        return body

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?")[0]
        found = route_of(method, path)
        body: dict[str, Any] | None = {}
        if method == "POST" and (found is None or found.body):  # read before any answer
            body = self._json_body()
            if body is None:
                return
        if found is None:
            self.send(404, {"error": "not found"})
            return
        if not self.allowed(found.access):
            if found.refused is not None:
                found.refused(self)
            else:
                self.send(401, {"error": "a valid API token is required"})
            return
        found.run(self, path, body or {})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def log_message(self, format: str, *args: object) -> None:
        return
