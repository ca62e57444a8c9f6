"""What each path of the agent's API answers, and to whom: one table
(ROUTES) from a method and path to the access it needs and the function that
answers. The HTTP plumbing is api/handler.py's, the listening api/server.py's."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

from hapair.agent.api import restore, ui
from hapair.agent.api.commands import NAMES, Commanded, command
from hapair.agent.api.publish import endpoint_verdict, summary
from hapair.agent.guard import Turning, alive
from hapair.agent.node import backup_stream
from hapair.agent.node.db import Database, Endpoint

if TYPE_CHECKING:
    from hapair.agent.api.handler import Handler
    from hapair.agent.core.actions import Decision
    from hapair.agent.node.metrics import Metrics

log = logging.getLogger("hapair.agent")

#: The largest request body read (a command's JSON; a restore streams).
MAX_BODY = 64 * 1024


class Served(Commanded, restore.Restorable, ui.Shown, Turning, Protocol):
    """What the API reads and touches of the agent, itself and through the
    commands, a restore, the page and the liveness check it serves."""

    token: str
    admin_password: str
    backup_lock: threading.Lock
    metrics: Metrics
    decision: Decision | None
    stop_read: bool


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
    h.send(200, restore.binlogs(h.agent.datadir))


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
