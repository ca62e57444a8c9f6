"""The agents' API over TLS: who may read what, who may change anything, and
a client that never finishes its handshake holds up no one."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hapair import pki, tls
from hapair.agent.api import handler as http
from hapair.agent.api import routes
from hapair.agent.api import server as api
from hapair.model.status import StatusDoc, read
from hapair.secrets import peer_token, read_token

TOKEN = "admin-token-" + "x" * 30
NOW = dt.datetime.now(dt.UTC)


class FakeAgent(SimpleNamespace):
    def status(self) -> StatusDoc:
        return StatusDoc(node="node1", gtid_binlog_pos="0-1-42", last_io_error="boom",
                         history=[{"event": "promoted"}])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str]]]:
    """An agent API on 127.0.0.1 over TLS; (base URL, CA PEM, commands run)."""
    ca = pki.new_ca("t", NOW)
    pair = pki.issue(ca, "node1", ("127.0.0.1",), NOW)
    d: Path = tmp_path_factory.mktemp("tls")
    (d / "agent.crt").write_text(pair.cert)
    (d / "agent.key").write_text(pair.key)
    seen: list[str] = []
    # The test's client is "the peer" on loopback.
    cfg = SimpleNamespace(node="node1", peer="node2", peer_addresses={"interconnect": "127.0.0.1"},
                          cluster="t")
    agent = FakeAgent(token=TOKEN, cfg=cfg,
                      contact=SimpleNamespace(seen=lambda when: seen.append("seen")),
                      backup_lock=threading.Lock(), datadir=str(d),
                      view=SimpleNamespace(db=SimpleNamespace(up=True, read_only=False)))
    context = tls.server_context(str(d / "agent.crt"), str(d / "agent.key"))
    server = api.serve(agent, "127.0.0.1", 0, context)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", ca.cert, seen
    server.shutdown()


def ask(base: str, ca: str, path: str, credential: str = "", method: str = "GET",
        node: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    if node:
        headers["X-Hapair-Node"] = node
    req = urllib.request.Request(base + path, method=method, headers=headers,
                                 data=b"{}" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=3,
                                    context=tls.client_context(ca_pem=ca)) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_status_without_the_read_credential_is_a_summary(served: Any) -> None:
    base, ca, _ = served
    code, doc = ask(base, ca, "/status")
    assert code == 200 and doc["summary"] is True and doc["node"] == "node1"
    assert "gtid_binlog_pos" not in doc and "last_io_error" not in doc and "history" not in doc
    parsed, notes = read(doc)
    assert parsed.summary and any("summary only" in n for n in notes)


def test_the_read_credential_reads_everything_and_changes_nothing(served: Any) -> None:
    base, ca, seen = served
    seen.clear()
    code, doc = ask(base, ca, "/status", read_token(TOKEN), node="node2")
    assert code == 200 and doc["gtid_binlog_pos"] == "0-1-42" and not doc["summary"]
    # A monitoring host replaying a poll "as the peer" is no sign of the
    # peer's life: it would keep a dead primary alive in the standby's eyes.
    assert seen == []
    code, doc = ask(base, ca, "/status", peer_token(TOKEN), node="node2")
    assert code == 200 and not doc["summary"]
    assert seen == ["seen"]  # the peer's own poll counts as contact
    assert ask(base, ca, "/status", peer_token(TOKEN), node="node3")[0] == 200
    assert seen == ["seen"]  # not naming the peer: read, not counted
    assert ask(base, ca, "/pause", peer_token(TOKEN), "POST")[0] == 401
    assert ask(base, ca, "/pause", read_token(TOKEN), "POST")[0] == 401
    assert ask(base, ca, "/backup", read_token(TOKEN))[0] == 401
    assert ask(base, ca, "/status", "wrong")[1]["summary"] is True


def test_another_ca_s_client_does_not_trust_the_agent(served: Any) -> None:
    base, _, _ = served
    other = pki.new_ca("other", NOW)
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        ask(base, other.cert, "/status")


def test_a_stalled_handshake_holds_up_no_one(served: Any) -> None:
    base, ca, _ = served
    port = int(base.rsplit(":", 1)[1])
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
    plain = socket.create_connection(("127.0.0.1", port))
    plain.sendall(b"GET /status HTTP/1.0\r\n\r\n")  # not TLS: refused, not served
    started = time.monotonic()
    assert ask(base, ca, "/status")[0] == 200
    assert time.monotonic() - started < 1.0
    plain.settimeout(3)
    try:
        answer = plain.recv(100)
    except ConnectionResetError:
        answer = b""
    assert b"HTTP/1." not in answer
    for s in (*silent, plain):
        s.close()


def test_a_request_dribbled_byte_by_byte_is_cut_at_the_whole_requests_deadline(
        served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """One header byte every 0.2 s never trips the socket's per-read
    timeout; the deadline on the whole request does (here 1 s)."""
    base, ca, _ = served
    monkeypatch.setattr(http, "IDLE_S", 1.0)
    port = int(base.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port))
    conn = tls.client_context(ca_pem=ca).wrap_socket(raw, server_hostname="127.0.0.1")
    conn.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
    started, cut = time.monotonic(), False
    while time.monotonic() - started < 4:
        try:
            conn.sendall(b"X")
            conn.settimeout(0.2)
            if conn.recv(100) == b"":
                cut = True
                break
        except TimeoutError:
            continue
        except (OSError, ssl.SSLError):
            cut = True
            break
    conn.close()
    assert cut and time.monotonic() - started < 2.5
    assert ask(base, ca, "/status")[0] == 200  # and others are served as before


def test_the_read_credential_is_derived_not_the_token() -> None:
    assert read_token(TOKEN) == read_token(TOKEN) != TOKEN
    assert TOKEN not in read_token(TOKEN) and read_token(TOKEN) != read_token(TOKEN + "y")


def test_loopback_and_the_peer_are_always_served() -> None:
    """A flood that fills the remote slots must not silence the peer's polls
    (they keep the pair's leases) nor keepalived's check on loopback."""
    server = api.Server(("127.0.0.1", 0), http.handler(FakeAgent(  # type: ignore[arg-type]
        token=TOKEN, cfg=SimpleNamespace(peer="node2", peer_addresses={}))),
        trusted=frozenset({"192.168.57.103", "10.54.0.11"}))
    try:
        assert server.local(("127.0.0.1", 4000)) and server.local(("10.54.0.11", 4000))
        assert server.local(("192.168.57.103", 4000))
        assert not server.local(("10.54.0.254", 4000)) and not server.local(("10.99.0.2", 1))
    finally:
        server.server_close()


def test_binary_logs_and_a_restore_need_the_token_and_a_writable_node_refuses_one(
        served: Any) -> None:
    base, ca, _ = served
    reader = read_token(TOKEN)
    assert ask(base, ca, "/binlogs", reader)[0] == 401
    assert ask(base, ca, "/binlogs/mariadb-bin.000001", reader)[0] == 401
    assert ask(base, ca, "/restore", reader, "POST")[0] == 401
    # The token, but this node is writable (a running primary): refused,
    # nothing received.
    code, said = ask(base, ca, "/restore", TOKEN, "POST")
    assert code == 409 and "not read-only" in said["error"]
    assert ask(base, ca, "/binlogs/mariadb-bin.000001?from=x", TOKEN)[0] == 400


def test_every_change_and_the_data_need_the_api_token_itself() -> None:
    """The routing table says who may ask for what: every POST (the
    operator's commands, a restore) and the data (a backup, files, binary
    logs) need the token; only the probes keepalived, load balancers and
    Prometheus use are open; the rest needs at least the read credential."""
    from hapair.agent.api.commands import NAMES

    posts = {path for (method, path) in routes.ROUTES if method == "POST"}
    assert posts == {"/restore", *(f"/{n}" for n in NAMES)}
    for (method, path), route in routes.ROUTES.items():
        if method == "POST" or path in ("/backup", "/files", "/binlogs", "/binlogs/"):
            assert route.access is routes.Access.TOKEN, path
        elif route.access is routes.Access.ANYONE:
            assert path in ("/alive", "/health", "/primary", "/replica", "/metrics"), path
    binlog = routes.route_of("GET", "/binlogs/mariadb-bin.000001")
    assert binlog is routes.ROUTES[("GET", "/binlogs/")]
    assert routes.route_of("GET", "/status/x") is None and routes.route_of("PUT", "/status") is None


def test_an_unknown_path_is_a_404_and_a_command_without_the_token_a_401(served: Any) -> None:
    base, ca, seen = served
    assert ask(base, ca, "/nothing")[0] == 404
    assert ask(base, ca, "/nothing", TOKEN, "POST")[0] == 404
    before = list(seen)
    for name in ("fence", "switchover", "pause"):
        assert ask(base, ca, f"/{name}", read_token(TOKEN), "POST")[0] == 401
    assert seen == before  # nothing changed, and no poll counted
