"""The loop, the long actions and the intent store over a fake I/O layer:
the real Agent, learn, decide and act; the database, the peer and the node's
probes replaced by fakes (never the unit under test)."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hapair.agent import act
from hapair.agent.core.events import changed
from hapair.agent.core.view import Peer, View
from hapair.agent.loop import Agent
from hapair.agent.node import observe
from hapair.agent.node.intent import Intent, IntentStore
from hapair.agent.node.peer import Contact
from hapair.model.roles import Role
from hapair.probes.mariadb import MariaDBState, SlaveStatus, Thread
from hapair.spec import load_spec
from tests.conftest import EXAMPLES
from tests.unit.test_decide import peer_primary, primary_db, replica_db

SPEC = load_spec(EXAMPLES / "lab-pair.toml").spec


class FakeDB:
    """The local MariaDB: a state to return, and the statements it was sent."""

    def __init__(self, state: MariaDBState):
        self.state = state
        self.sent: list[str] = []

    def probe(self) -> MariaDBState:
        return self.state

    def wait_for(self, what: str, test: Any, seconds: float) -> MariaDBState:
        return self.state

    def execute(self, sql: str, args: tuple[Any, ...] = (), timeout: float = 3.0) -> None:
        self.sent.append(sql)

    def follow(self, host: str, *args: Any, **kw: Any) -> None:
        self.sent.append(f"follow {host}")

    def set_semi_sync(self, on: bool) -> None:
        self.sent.append(f"semi-sync {on}")


def agent_with(tmp_path: Path, db: FakeDB, peer: Peer) -> Agent:
    agent = Agent(SPEC, SPEC.node("node2"), "t" * 30, "a" * 20, "r" * 20,
                  track_file=str(tmp_path / "track"), intent_file=str(tmp_path / "intent"))
    agent.db = db  # type: ignore[assignment]
    agent.peer = peer

    def fake_observe() -> View:
        return View(now=time.monotonic(), node="node2", keepalived_running=True, vrrp="BACKUP",
                    holds_vip=False,
                    db=agent.db.probe(),
                    peer=agent.peer)

    agent.observe = fake_observe  # type: ignore[method-assign]
    now = time.monotonic()
    agent.contact.renewed(now, now)
    return agent


def wait_until(test: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_rebuild_runs_beside_the_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = replace_slave(io=Thread.STOPPED, io_errno=1236, last_io_error="binlog purged")
    db = FakeDB(broken)
    agent = agent_with(tmp_path, db, Peer(peer_primary(), ("interconnect",), time.monotonic()))
    release, started = threading.Event(), threading.Event()

    def slow_restore(stream: object, datadir: str) -> str:
        started.set()
        assert release.wait(10)
        return "0-1-100"

    @contextlib.contextmanager
    def backup(path: str) -> Iterator[object]:
        yield object()

    monkeypatch.setattr(act.rebuild, "restore", slow_restore)
    monkeypatch.setattr(agent.peer_client, "backup", backup)

    agent.cycle()
    assert started.wait(5)
    # The loop goes on observing and answering while the rebuild runs.
    db.state = replace_slave(io=Thread.STOPPED, io_errno=1236, last_io_error="binlog purged",
                             gtid_binlog_pos="0-1-7")
    for _ in range(3):
        agent.cycle()
    assert agent.view is not None and agent.view.db.gtid_binlog_pos == "0-1-7"
    doc = agent.status()
    assert doc.role is Role.REBUILDING and doc.task == "rebuilding from node1"
    assert not doc.db_up and not doc.complete and doc.task_s >= 0
    assert agent.decision is not None and "[held: Rebuild]" in agent.decision.reason
    assert any("under way" in h["reason"] for h in agent.journal.recent(30)[0])
    release.set()
    wait_until(lambda: agent.memory.task is None)
    assert "follow 192.168.57.102" in db.sent and agent.memory.rebuild_after == 0


def test_a_change_of_path_ends_the_old_dump_beside_the_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replication moving to the public network ends the primary's dump
    thread to this node's interconnect address over the public one: in a
    thread, so that a path that stops answering as it is taken (a partition
    becoming whole) never holds the loop, and the CHANGE MASTER goes ahead."""
    db = FakeDB(replica_db())  # replicating over the interconnect
    agent = agent_with(tmp_path, db, Peer(peer_primary(), ("interconnect",), time.monotonic()))
    release, asked = threading.Event(), threading.Event()
    seen: list[tuple[str, str]] = []

    def stuck(rt: object, path: str, old_address: str) -> None:
        seen.append((path, old_address))
        asked.set()
        assert release.wait(10)

    monkeypatch.setattr(act, "end_old_dump", stuck)
    view = agent.observe()
    began = time.monotonic()
    act.carry_out(agent, view, act.Follow(path="public"))
    took = time.monotonic() - began
    assert asked.wait(5) and not release.is_set()
    assert took < 1.0 and db.sent == ["follow 10.54.0.10"]
    assert seen == [("public", "192.168.57.103")]
    release.set()


def test_a_failed_rebuild_is_retried_later(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    db = FakeDB(replace_slave(io=Thread.STOPPED, io_errno=1236))
    agent = agent_with(tmp_path, db, Peer(peer_primary(), ("interconnect",), time.monotonic()))

    @contextlib.contextmanager
    def backup(path: str) -> Iterator[object]:
        raise OSError("connection refused")
        yield  # pragma: no cover

    monkeypatch.setattr(agent.peer_client, "backup", backup)
    agent.cycle()
    wait_until(lambda: agent.memory.task is None)
    assert agent.memory.rebuild_after > time.monotonic() + 10
    agent.cycle()
    assert agent.decision is not None and "next attempt in" in agent.decision.reason
    assert agent.memory.task is None


def replace_slave(**kw: Any) -> MariaDBState:
    slave_fields = set(SlaveStatus.__dataclass_fields__)
    base = replica_db()
    slave = SlaveStatus(**{**base.slave.__dict__,
                           **{k: v for k, v in kw.items() if k in slave_fields}})
    rest = {k: v for k, v in kw.items() if k not in slave_fields}
    return MariaDBState(**{**base.__dict__, **rest, "slave": slave})


def test_the_track_file_follows_eligibility(tmp_path: Path) -> None:
    agent = agent_with(tmp_path, FakeDB(replica_db()), Peer(peer_primary(), ("interconnect",),
                                                             time.monotonic()))
    agent.cycle()
    assert (tmp_path / "track").read_text() == "0\n"
    agent.db = FakeDB(MariaDBState(up=False, error="gone"))  # type: ignore[assignment]
    agent.cycle()
    assert (tmp_path / "track").read_text() == "1\n"


# ---- the operator's intent on disk ------------------------------------------------------------


@pytest.mark.parametrize(("content", "said"), [
    ("", "unreadable"), ("{not json", "unreadable"), ("[1, 2]", "JSON object"),
    ('{"paused": "yes"}', "true or false"), ('{"paused": 1}', "true or false")])
def test_a_bad_intent_file_is_a_line_and_the_safe_default(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, said: str) -> None:
    path = tmp_path / "intent.json"
    path.write_text(content)
    assert IntentStore(path).load() == Intent()
    assert said in caplog.text


def test_the_intent_round_trips_atomically(tmp_path: Path) -> None:
    store = IntentStore(tmp_path / "sub" / "intent.json")
    assert store.load() == Intent()
    store.save(Intent(paused=True, degraded=False))
    assert store.load() == Intent(paused=True)
    assert (tmp_path / "sub" / "intent.json").stat().st_mode & 0o077 == 0
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["intent.json"]


def test_a_full_disk_leaves_the_old_intent_and_the_fence_still_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = IntentStore(tmp_path / "intent.json")
    store.save(Intent(degraded=True))
    real_write = __import__("os").write

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("hapair.agent.node.intent.os.write", full)
    with pytest.raises(OSError, match="No space"):
        store.save(Intent(paused=True))
    monkeypatch.setattr("hapair.agent.node.intent.os.write", real_write)
    assert store.load() == Intent(degraded=True)
    assert [p.name for p in tmp_path.iterdir()] == ["intent.json"]


def test_pause_answers_that_it_holds_but_was_not_saved(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from hapair.agent.api.commands import command
    agent = agent_with(tmp_path, FakeDB(replica_db()), Peer(None, ()))

    def full(intent: Intent) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(agent.intent, "save", full)
    code, answer = command(agent, "pause", {})
    assert code == 500 and agent.memory.paused and "not saved" in answer["error"]


def test_maintenance_holds_across_a_restart_and_a_reboot_needs_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hapair maintenance` on a replica: saved for the next agent (a reboot
    must not bring it back into failover by itself); a reboot is refused
    until it is on, and on a writable primary maintenance is refused."""
    from hapair.agent.api import commands
    from hapair.agent.api.commands import command
    agent = agent_with(tmp_path, FakeDB(replica_db()), Peer(None, ()))
    agent.probed = agent.observe()
    rebooted: list[list[str]] = []
    monkeypatch.setattr(commands, "REBOOT_AFTER_S", 0.0)
    monkeypatch.setattr(commands.subprocess, "run",
                        lambda argv, **kw: rebooted.append(argv))
    assert command(agent, "reboot", {})[0] == 409 and not rebooted
    assert command(agent, "maintenance", {"on": "yes"})[0] == 400
    code, answer = command(agent, "maintenance", {"on": True})
    assert (code, answer) == (200, {"maintenance": True}) and agent.memory.maintenance
    assert IntentStore(tmp_path / "intent").load() == Intent(maintenance=True)
    again = agent_with(tmp_path, FakeDB(replica_db()), Peer(None, ()))
    assert again.memory.maintenance and again.status().maintenance
    assert command(agent, "reboot", {})[0] == 200
    wait_until(lambda: rebooted == [["systemctl", "reboot", "--no-block"]])
    assert command(agent, "maintenance", {"on": False})[0] == 200
    assert not agent.memory.maintenance
    primary = agent_with(tmp_path / "p", FakeDB(primary_db()), Peer(None, ()))
    primary.probed = primary.observe()
    code, answer = command(primary, "maintenance", {"on": True})
    assert code == 409 and "switch over first" in answer["error"]
    assert not primary.memory.maintenance


def test_what_apply_left_owed_is_in_the_view_and_the_status(tmp_path: Path) -> None:
    (tmp_path / "pending").mkdir()
    for key in ("app", "agent", ".tmp"):
        (tmp_path / "pending" / key).touch()
    assert observe.pending(str(tmp_path / "pending")) == ("agent", "app")
    assert observe.pending(str(tmp_path / "none")) == ()


def test_write_if_changed_is_atomic(tmp_path: Path) -> None:
    target = str(tmp_path / "run" / "track")
    observe.write_if_changed(target, "1\n")
    observe.write_if_changed(target, "1\n")
    assert Path(target).read_text() == "1\n" and len(list((tmp_path / "run").iterdir())) == 1


def test_a_fresh_agent_assumes_its_peer_may_hold_every_confirmed_booking(
        tmp_path: Path) -> None:
    """A restarted primary whose standby is silent must not commit alone."""
    agent = agent_with(tmp_path, FakeDB(replica_db()), Peer(None, ()))
    assert agent.memory.peer_complete and not agent.memory.complete


def test_health_is_checked_beside_the_loop_and_a_change_wakes_it() -> None:
    import threading
    import time

    from hapair.agent.node.health import NOT_YET, HealthChecker

    wake = threading.Event()
    checker = HealthChecker(1, 0.01, wake)
    answers = iter([("the application not answering (timed out)", "")] * 3 + [("", "")] * 1000)
    slow = threading.Event()

    def check() -> tuple[str, str]:
        slow.wait(0.05)  # an application whose workers wait on commits answers late
        return next(answers)

    checker.check = check  # type: ignore[method-assign]
    assert checker.latest() == (NOT_YET, "")  # unknown health is a problem, never "healthy"
    threading.Thread(target=checker.run, daemon=True).start()
    assert wake.wait(2)
    deadline = time.monotonic() + 2
    while checker.latest() != ("", "") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checker.latest() == ("", "")


def test_workers_still_loading_are_counted_from_their_files_and_live_pids() -> None:
    from hapair.agent.node.health import loading

    alive = {11, 12, 13}.__contains__
    assert loading(["wanted", "11", "12", "13"], "3", alive) == ""
    assert loading(["wanted", "11", "99"], "3", alive) == "1 of 3 application workers loaded"
    assert loading(["wanted"], "3\n", alive) == "0 of 3 application workers loaded"
    assert loading(["11", "12", "13", "14"], "3", alive) == ""  # a new one beside the old
    # No count from gunicorn (an application unit from before the hooks): nothing said.
    assert loading(["11"], None, alive) == "" and loading(["11"], "", alive) == ""


def test_the_checker_reads_the_loaded_workers_folder(tmp_path: Path) -> None:
    import os

    from hapair.agent.node.health import HealthChecker
    from hapair.paths import APP_WANTED_FILE as WANTED

    folder = tmp_path / "loaded"
    checker = HealthChecker(1, 0.01, threading.Event(), loaded_dir=str(folder))
    checker.check = lambda: ("", "")  # type: ignore[method-assign]
    threading.Thread(target=checker.run, daemon=True).start()
    time.sleep(0.05)
    assert checker.loading == ""  # no folder: an application without the hooks
    folder.mkdir()
    (folder / WANTED).write_text("2")
    (folder / str(os.getpid())).touch()
    assert _until(lambda: checker.loading == "1 of 2 application workers loaded")
    (folder / str(os.getppid())).touch()
    assert _until(lambda: checker.loading == "")


def _until(ok: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while not ok() and time.monotonic() < deadline:
        time.sleep(0.01)
    return ok()


def test_a_fence_closes_the_database_even_on_a_full_disk() -> None:
    from types import SimpleNamespace

    from hapair.agent.api.commands import fenced
    from hapair.agent.core.view import Memory

    done: list[str] = []

    class FenceDB:
        def close_writes(self, app_user: str, stop_clients: object = None) -> None:
            done.append("read_only=ON")

        def probe(self) -> object:
            return SimpleNamespace(up=True, read_only=True, gtid_binlog_pos="0-1-5")

    def full_disk(eligible: bool) -> None:
        raise OSError(28, "No space left on device")

    agent = SimpleNamespace(
        cfg=SimpleNamespace(node="node1", app_user="app", vip="10.54.0.100", vip_device="pub0",
                            vip_prefix=24),
        memory=Memory(), view=None, fence_db=FenceDB(), stop_app=lambda: None,
        open_lock=threading.Lock(), write_track=full_disk,
        contact=Contact(0.0, 0.0, threading.Lock()),
        alert=lambda event, detail: done.append(f"alert {event}"))
    agent.record = lambda event: setattr(agent, "memory", changed(agent.memory, event))
    code, answer = fenced(agent, "node2")  # type: ignore[arg-type]
    assert code == 200 and answer["read_only"] is True
    assert done == ["read_only=ON", "alert fenced"]
    assert agent.memory.fenced_by == "node2"
    # The fence is a sign of the fencer: this node's takeover clock starts at
    # its arrival, no earlier than the fencer's lease renewed by the answer.
    assert agent.contact.read()[1] > 0


def test_idle_connections_never_starve_the_api() -> None:
    import socket
    import threading
    import time
    import urllib.request
    from http.server import BaseHTTPRequestHandler

    from hapair.agent.api import server as api

    class Health(BaseHTTPRequestHandler):
        timeout = 0.5  # the agent's is handler.IDLE_S

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Remote(api.Server):
        """Every client counts as remote, except the one marked local."""

        local_port = -1

        def local(self, client_address: Any) -> bool:
            return bool(client_address[1] == self.local_port)

    server = Remote(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = server.server_address
    idle = [socket.create_connection(address) for _ in range(api.MAX_REMOTE)]
    time.sleep(0.1)
    extra = socket.create_connection(address)
    extra.settimeout(1)
    assert extra.recv(1) == b""  # closed at once: no slot left, nothing queued
    local = socket.socket()
    local.bind(("127.0.0.1", 0))
    server.local_port = local.getsockname()[1]
    local.connect(address)
    local.sendall(b"GET /health HTTP/1.0\r\n\r\n")
    local.settimeout(2)
    assert local.recv(12).startswith(b"HTTP/1.0 200")  # the local check is served anyway
    # The idle ones are cut after the handler's timeout (0.5 s): then a remote
    # client is served again (within 3 s: a busy host's threads run late).
    deadline, status = time.monotonic() + 3, 0
    while time.monotonic() < deadline and status != 200:
        time.sleep(0.2)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{address[1]}/health",
                                        timeout=1) as r:
                status = r.status
        except OSError:
            continue
    assert status == 200
    for s in (*idle, extra, local):
        s.close()
    server.shutdown()


def test_keepalived_s_check_asks_only_whether_the_agent_is_alive() -> None:
    """Liveness, not eligibility (that goes through the tracked file at once):
    a node ineligible for a while must not wait out `rise` checks after."""
    from types import SimpleNamespace

    from hapair.agent.guard import STALL_S, alive

    fresh = SimpleNamespace(cycle_started=100.0, guard_tick=100.0)
    assert alive(fresh, 100.0 + STALL_S - 0.1) == (True, "alive\n")  # type: ignore[arg-type]
    stuck = SimpleNamespace(cycle_started=100.0, guard_tick=100.0 + STALL_S)
    ok, why = alive(stuck, 100.0 + STALL_S + 1)  # type: ignore[arg-type]
    assert not ok and "loop has not turned for 11.0s" in why


def test_a_statement_on_a_connection_the_server_closed_is_sent_once_more() -> None:
    """2006 (never sent) on a kept connection: a new one; other errors, or a
    fresh connection failing, are not retried."""
    import pymysql

    from hapair.agent.node.db import Database, DBError, Endpoint, unsent

    class Conn:
        def __init__(self, error: Exception | None) -> None:
            self.error, self.sent = error, []

        def cursor(self) -> Any:
            conn = self

            class Cur:
                def __enter__(self) -> Any:
                    return self

                def __exit__(self, *a: object) -> None:
                    return None

                def execute(self, sql: str, args: object) -> None:
                    if conn.error is not None:
                        raise conn.error
                    conn.sent.append(sql)

                def fetchall(self) -> list[dict[str, Any]]:
                    return [{"ok": 1}]
            return Cur()

        def close(self) -> None:
            pass

    gone = pymysql.err.OperationalError(2006, "MySQL server has gone away")
    lost = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
    assert unsent(gone) and not unsent(lost) and not unsent(None)
    made: list[Conn] = []

    class FakeEndpoint(Endpoint):
        def connect(self, timeout: float = 2.0) -> Any:
            made.append(Conn(None))
            return made[-1]

    db = Database(FakeEndpoint("u", "p"))
    db._conn = Conn(gone)  # type: ignore[assignment]
    db.execute("SET GLOBAL read_only = ON")
    assert made[0].sent == ["SET GLOBAL read_only = ON"]
    db._conn = Conn(lost)  # type: ignore[assignment]
    with pytest.raises(DBError):
        db.execute("INSERT ...")  # may have run: never twice
    assert len(made) == 1


def test_a_drained_holder_keeps_the_vip_on_lo_while_it_moves(monkeypatch: Any) -> None:
    """The answers in flight when the VIP leaves still go out from it: the
    address stays on lo (linger) before keepalived is told, and goes later."""
    from types import SimpleNamespace

    from hapair.agent.api import commands
    from hapair.agent.core.view import Memory
    from hapair.agent.node import observe

    done: list[str] = []
    gone = threading.Event()
    monkeypatch.setattr(commands, "DRAIN_S", 0.01)
    monkeypatch.setattr(observe, "LINGER_S", 0.05)
    monkeypatch.setattr(observe, "linger", lambda a: done.append(f"linger {a}"))
    monkeypatch.setattr(observe, "end_linger", lambda a: (done.append(f"end {a}"), gone.set()))

    class FenceDB:
        def close_writes(self, app_user: str, stop_clients: object = None) -> None:
            done.append("read_only=ON")

        def probe(self) -> object:
            return SimpleNamespace(up=True, read_only=True, gtid_binlog_pos="0-1-5")

    agent = SimpleNamespace(
        cfg=SimpleNamespace(node="node1", app_user="app", vip="10.54.0.100", vip_device="pub0",
                            vip_prefix=24),
        memory=Memory(), view=SimpleNamespace(holds_vip=True, keepalived_running=True),
        fence_db=FenceDB(), stop_app=lambda: None, open_lock=threading.Lock(),
        contact=Contact(0.0, 0.0, threading.Lock()),
        write_track=lambda eligible: done.append(f"eligible {eligible}"),
        alert=lambda event, detail: None)
    agent.record = lambda event: setattr(agent, "memory", changed(agent.memory, event))
    code, _ = commands.fenced(agent, "node2")  # type: ignore[arg-type]
    assert code == 200 and gone.wait(2)
    assert done == ["read_only=ON", "linger 10.54.0.100", "eligible False", "end 10.54.0.100"]



def test_the_vip_is_on_lo_before_keepalived_is_told_to_drop_it(monkeypatch: Any,
                                                                tmp_path: Any) -> None:
    """A holder that turns ineligible: the linger first, then the tracked
    file keepalived acts on; not again while it stays ineligible, and not
    for a node that holds no VIP."""
    from types import SimpleNamespace

    from hapair.agent.loop import Agent
    from hapair.agent.node import observe

    done: list[str] = []
    monkeypatch.setattr(observe, "linger_for", lambda a, s: done.append(f"linger {a}"))
    track = tmp_path / "vrrp-fault"
    track.write_text("0\n")
    agent = SimpleNamespace(track_file=str(track), cfg=SimpleNamespace(vip="10.54.0.100"),
                            view=SimpleNamespace(holds_vip=True))
    Agent.write_track(agent, False)  # type: ignore[arg-type]
    assert done == ["linger 10.54.0.100"] and track.read_text() == "1\n"
    Agent.write_track(agent, False)  # type: ignore[arg-type]
    assert done == ["linger 10.54.0.100"]  # already told: no second linger
    Agent.write_track(agent, True)  # type: ignore[arg-type]
    agent.view = SimpleNamespace(holds_vip=False)
    Agent.write_track(agent, False)  # type: ignore[arg-type]
    assert done == ["linger 10.54.0.100"] and track.read_text() == "1\n"


def test_no_action_on_the_loop_waits_on_the_database_past_the_guard_s_stall_limit() -> None:
    """follow() and a reconnect share LOOP_STATEMENTS_S among their
    statements; STOP SLAVE alone had 10 s, the guard's whole STALL_S."""
    from hapair.agent.act import LOOP_STATEMENTS_S
    from hapair.agent.guard import STALL_S
    from hapair.agent.node.db import Database, Endpoint, follow_timeouts

    stop, each = follow_timeouts(LOOP_STATEMENTS_S)
    assert stop + 3 * each <= LOOP_STATEMENTS_S < STALL_S / 1.5
    asked: list[tuple[str, float]] = []

    class Recorded(Database):
        def execute(self, sql: str, args: tuple[object, ...] = (),
                    timeout: float = 3.0) -> None:
            asked.append((sql.split()[0] + " " + sql.split()[1], timeout))

    Recorded(Endpoint("u", "p")).follow("10.0.0.1", 3306, "repl", "pw",
                                         budget=LOOP_STATEMENTS_S)
    assert [sql for sql, _ in asked] == ["STOP SLAVE", "CHANGE MASTER", "SET GLOBAL",
                                         "START SLAVE"]
    assert sum(t for _, t in asked) <= LOOP_STATEMENTS_S


def test_a_worker_that_ended_and_waits_to_be_reaped_is_not_loaded(tmp_path: Path) -> None:
    """Its /proc entry stays until gunicorn's master reaps it: a zombie
    counted as a loaded worker."""
    from hapair.agent.node.health import _loading_now
    from hapair.paths import APP_WANTED_FILE

    child = os.fork()
    if child == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while "Z" not in Path(f"/proc/{child}/stat").read_text().rpartition(")")[2][:3] \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp_path / APP_WANTED_FILE).write_text("2\n")
        (tmp_path / str(os.getpid())).touch()
        (tmp_path / str(child)).touch()
        assert _loading_now(str(tmp_path)) == "1 of 2 application workers loaded"
    finally:
        os.waitpid(child, 0)
