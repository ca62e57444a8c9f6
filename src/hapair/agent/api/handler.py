"""The agent API's HTTP plumbing: a whole-request deadline, the
credentials, reading a JSON body, answers; what each path does is
api/routes.py's."""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from hapair.agent.api import ui
from hapair.agent.api.routes import MAX_BODY, Access, Served, route_of
from hapair.secrets import peer_token, read_token

#: A request is read within this long in all, and an idle or slow
#: connection is cut after it.
IDLE_S = 5.0


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
