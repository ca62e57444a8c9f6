"""The agent: every cycle (and at once on a keepalived transition) it reads
one view, learns, decides, says why, and acts. Threads around the loop: the
HTTP API, the peer poller, keepalived's FIFO, and the lease guard."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from hapair.agent import gtid, observe
from hapair.agent.act import Abort, carry_out
from hapair.agent.api import serve
from hapair.agent.config import from_spec
from hapair.agent.db import Database, DBError, Endpoint
from hapair.agent.decide import Decision, decide, fresh_peer, learn
from hapair.agent.fifo import FifoReader
from hapair.agent.metrics import Metrics
from hapair.agent.peer import Contact, PeerClient, PeerError
from hapair.agent.view import LocalDB, Memory, Peer, View
from hapair.render.files import APP_USER, NOTIFY_FIFO, TRACK_FILE
from hapair.spec.models import ClusterSpec, Node

log = logging.getLogger("hapair.agent")
STATE_FILE = Path("/var/lib/hapair/agent-state.json")
SLOW_GRACE_S = 2.0


class Agent:
    def __init__(self, spec: ClusterSpec, node: Node, token: str, admin_password: str,
                 replication_password: str, track_file: str = TRACK_FILE):
        self.cfg = cfg = from_spec(spec, node)
        self.token = token
        self.admin_password = admin_password
        self.replication_password = replication_password
        self.datadir = spec.database.datadir
        self.track_file = Path(track_file)
        self.db = Database(Endpoint(cfg.admin_user, admin_password))
        self.guard_db = Database(Endpoint(cfg.admin_user, admin_password))
        self.fence_db = Database(Endpoint(cfg.admin_user, admin_password))
        self.peer_client = PeerClient(cfg, token)
        now = time.monotonic()
        self.contact = Contact(now, now, threading.Lock())
        intent = self._load_intent()
        self.memory = Memory(paused=intent.get("paused", False),
                             degraded=intent.get("degraded", False))
        self.mlock = threading.Lock()  # memory edits (loop and commands)
        self.role_lock = threading.Lock()  # one role change at a time (loop, fence)
        self.peer = Peer(None, ())
        self.wake = threading.Event()
        self.fifo = FifoReader(NOTIFY_FIFO, lambda _state: self.wake.set())
        self.view: View | None = None
        self.decision: Decision | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=30)
        self.metrics = Metrics()
        self._vip_since = 0.0
        self.next_rebuild_at = 0.0
        self._slow_since = 0.0
        self.promoting = False
        self.rebuilding = False
        self.backup_lock = threading.Lock()  # one backup stream at a time

    # ---- intent that survives restarts (operator's pause and degrade) -------

    def _load_intent(self) -> dict[str, bool]:
        try:
            data = json.loads(STATE_FILE.read_text())
            return {"paused": bool(data.get("paused")), "degraded": bool(data.get("degraded"))}
        except (OSError, ValueError):
            return {}

    def _save_intent(self) -> None:
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(json.dumps({"paused": self.memory.paused,
                                          "degraded": self.memory.degraded}))

    def edit(self, **changes: Any) -> None:
        with self.mlock:
            self.memory = replace(self.memory, **changes)
            self._save_intent()

    # ---- threads -------------------------------------------------------------

    def run(self) -> None:
        server = serve(self, "0.0.0.0", self.cfg.agent_port)
        threading.Thread(target=server.serve_forever, name="api", daemon=True).start()
        self.fifo.start()
        threading.Thread(target=self._poller, name="poller", daemon=True).start()
        threading.Thread(target=self._guard, name="guard", daemon=True).start()
        log.info("agent for %s on port %d (peer %s, lease %.1fs + %.1fs)", self.cfg.node,
                 self.cfg.agent_port, self.cfg.peer, self.cfg.lease_s, self.cfg.margin_s)
        while True:
            try:
                self.cycle()
            except Exception:  # noqa: BLE001 - the loop must go on
                log.exception("cycle failed")
            self.wake.wait(self.cfg.interval_s)
            self.wake.clear()

    def _poller(self) -> None:
        """Never dies: a frozen view of the peer would freeze every decision."""
        while True:
            start = time.monotonic()
            before = self.peer.paths
            try:
                self.peer = self.peer_client.poll(self.contact)
            except Exception:  # noqa: BLE001 - keep polling whatever happened
                log.exception("polling %s failed", self.cfg.peer)
                self.peer = Peer(None, ())
            if self.peer.paths != before:
                log.info("peer %s answers on: %s", self.cfg.peer,
                         ", ".join(self.peer.paths) or "no path")
                self.wake.set()
            time.sleep(max(0.0, self.cfg.interval_s - (time.monotonic() - start)))

    def _guard(self) -> None:
        """The primary's lease, kept even if the loop is stuck in a slow action."""
        while True:
            try:
                self._guard_once()
            except Exception:  # noqa: BLE001 - the guard must outlive any error
                log.exception("lease guard")

    def _guard_once(self) -> None:
        time.sleep(0.05)
        v, m = self.view, self.memory
        if v is None or v.db.read_only or not v.db.up or m.degraded or m.paused:
            return
        if self.peer.paths or not (v.db.semi_master_enabled or m.peer_complete):
            return
        lease_renewed, _ = self.contact.read()
        silent = time.monotonic() - lease_renewed
        if silent <= self.cfg.lease_s:
            return
        try:
            self.guard_db.fence(self.cfg.app_user, stop_clients=self.stop_app)
            log.warning("lease ran out: %s unanswered for %.1fs, read_only=ON",
                        self.cfg.peer, silent)
            self.view = replace(v, db=replace(v.db, read_only=True))
        except DBError as exc:
            log.error("lease ran out but read_only=ON failed: %s", exc)

    # ---- one cycle -------------------------------------------------------------

    def observe(self) -> View:
        cfg = self.cfg
        peer = self.peer
        db = self.db.probe()
        app = observe.http_problem(f"http://127.0.0.1:{cfg.app_port}/healthz", "the application")
        apache = "" if app else observe.http_problem("http://127.0.0.1/healthz", "Apache")
        app, apache = self._patient(app), self._patient(apache)
        # Clients cannot reach a node whose VIP link is down, whatever keepalived says.
        link_ok = observe.has_carrier(cfg.vip_device)
        link = "" if link_ok else f"the {cfg.vip_device} link (the VIP's network) has no carrier"
        lease_renewed, peer_seen = self.contact.read()
        with self.mlock:
            memory = replace(self.memory, lease_renewed=lease_renewed, peer_seen=peer_seen)
        running = observe.keepalived_running()
        holds = cfg.vip in observe.addresses(cfg.vip_device)
        if holds and not self._vip_since:
            self._vip_since = time.monotonic()
        elif not holds:
            self._vip_since = 0.0
        return View(now=time.monotonic(), node=cfg.node, peer_name=cfg.peer,
                    keepalived_running=running, vrrp=self.fifo.state,
                    holds_vip=holds, vip_since=self._vip_since, db=db,
                    app_ok=not app, apache_ok=not apache, link_ok=link_ok,
                    health_problem=link or app or apache,
                    peer=peer, memory=memory)

    def _patient(self, problem: str) -> str:
        """A check that timed out (a busy application: every thread waiting on
        the database) counts only once it has lasted SLOW_GRACE_S; a refused
        connection or an error counts at once."""
        if "timed out" not in problem:
            if not problem:
                self._slow_since = 0.0
            return problem
        now = time.monotonic()
        self._slow_since = self._slow_since or now
        return problem if now - self._slow_since >= SLOW_GRACE_S else ""

    def cycle(self) -> None:
        with self.role_lock:
            v = self.observe()
            learnt = learn(v, self.cfg)
            with self.mlock:
                degraded = self.memory.degraded and not self._peer_caught_up(v)
                self.memory = replace(self.memory, complete=learnt.complete,
                                      peer_complete=learnt.peer_complete,
                                      fenced_by=learnt.fenced_by, degraded=degraded,
                                      unhealthy_since=learnt.unhealthy_since)
                v = replace(v, memory=replace(self.memory, lease_renewed=v.memory.lease_renewed,
                                              peer_seen=v.memory.peer_seen))
            d = decide(v, self.cfg)
            self._record(v, d)
            if not d.eligible:
                self.write_track(False)
            for action in d.actions:
                try:
                    carry_out(self, v, action)
                    self.metrics.acted(action, True)
                except (DBError, Abort, PeerError, RuntimeError, OSError) as exc:
                    self.metrics.acted(action, False)
                    log.warning("%s failed: %s", type(action).__name__, exc)
                    break
            if d.eligible:
                self.write_track(True)

    def _peer_caught_up(self, v: View) -> bool:
        p = fresh_peer(v)
        return (p is not None and p.io_running == "Yes" and self.cfg.is_my_address(p.master_host)
                and gtid.behind(p.gtid_binlog_pos, v.db.gtid_binlog_pos) < 1000)

    def _record(self, v: View, d: Decision) -> None:
        old = self.decision
        self.view, self.decision = v, d
        self.metrics.observe(v, d)
        if old is None or (old.reason, old.actions) != (d.reason, d.actions):
            acts = ", ".join(type(a).__name__ for a in d.actions)
            log.info("%s%s", d.reason, f" -> {acts}" if acts else "")
            self.history.append({"at": time.time(), "role": d.role, "reason": d.reason,
                                 "actions": [type(a).__name__ for a in d.actions]})

    def write_track(self, eligible: bool) -> None:
        want = "0\n" if eligible else "1\n"
        try:
            if self.track_file.read_text() == want:
                return
        except OSError:
            pass
        self.track_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.track_file.with_suffix(".tmp")
        tmp.write_text(want)
        tmp.replace(self.track_file)

    def stop_app(self) -> None:
        """Commits are stuck waiting for an acknowledgement: kill the
        application's processes so that none of them can be told "done"."""
        log.warning("commits wait for an acknowledgement that will not come: killing the "
                    "application's processes before their sessions (systemd restarts it)")
        observe.kill_user_processes(APP_USER)

    def promoted(self) -> None:
        # The old primary's word on completeness no longer means anything.
        self.edit(switchover_to="", force=False, degraded=False, peer_complete=False)

    # ---- what the API serves -------------------------------------------------------

    def status(self) -> dict[str, Any]:
        v, d, m = self.view, self.decision, self.memory
        db = v.db if v is not None else LocalDB(up=False, error="starting")
        s = db.slave
        return {
            "node": self.cfg.node, "db_up": db.up, "read_only": db.read_only,
            "epoch": db.epoch, "epoch_primary": db.epoch_primary,
            "gtid_binlog_pos": db.gtid_binlog_pos, "gtid_slave_pos": db.gtid_slave_pos,
            "gtid_current_pos": db.gtid_current_pos,
            "gtid_io_pos": s.gtid_io_pos,
            "holds_vip": bool(v and v.holds_vip and v.keepalived_running),
            "keepalived_running": bool(v and v.keepalived_running),
            "vrrp": v.vrrp if v else "UNKNOWN",
            "semi_master_on": db.semi.master_on, "semi_clients": db.semi.master_clients,
            "semi_master_enabled": db.semi_master_enabled,
            "io_running": s.io_running, "sql_running": s.sql_running,
            "master_host": s.master_host, "last_io_error": s.last_io_error,
            "last_sql_error": s.last_sql_error,
            "complete": m.complete, "eligible": bool(d and d.eligible), "paused": m.paused,
            "degraded": m.degraded, "fenced_by": m.fenced_by,
            "role": d.role if d else "starting", "reason": d.reason if d else "starting",
            "problem": bool(d and d.problem),
            "app_ok": bool(v and v.app_ok), "apache_ok": bool(v and v.apache_ok),
            "health_problem": v.health_problem if v else "",
            "peer_paths": list(v.peer.paths) if v else [],
            "history": list(self.history)[-10:], "time": time.time(),
        } | ({"db_up": False, "io_running": "No", "complete": False, "eligible": False,
              "role": "rebuilding", "reason": "rebuilding from the primary's backup"}
             if self.rebuilding else {})

    def endpoint_verdict(self, which: str) -> tuple[bool, str]:
        v, d = self.view, self.decision
        if v is None or d is None:
            return False, "starting"
        if which == "health":
            return d.eligible, d.reason
        if which == "primary":
            return v.db.up and not v.db.read_only, d.role
        return (v.db.up and v.db.read_only and v.db.slave.io_running == "Yes"
                and v.db.slave.sql_running == "Yes"), d.role

    def command(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if name == "fence":
            return self._fenced(str(body.get("by") or "?"))
        if name == "pause":
            self.edit(paused=True)
            log.info("paused by the operator: no automatic failover")
            return 200, {"paused": True}
        if name == "resume":
            self.edit(paused=False)
            log.info("resumed by the operator")
            return 200, {"paused": False}
        if name == "degrade":
            d = self.decision
            if d is None or d.role != "primary (writes paused)":
                return 409, {"error": f"{self.cfg.node} is not a primary with writes paused "
                             f"(it is: {d.role if d else 'starting'})"}
            if self.peer.paths:
                return 409, {"error": f"{self.cfg.peer} answers: nothing to degrade"}
            self.edit(degraded=True)
            log.warning("degraded by the operator: committing without %s", self.cfg.peer)
            self.wake.set()
            return 200, {"degraded": True}
        if name == "switchover":
            return self._switchover(bool(body.get("force")))
        return 404, {"error": f"no command {name!r}"}

    def _fenced(self, by: str) -> tuple[int, dict[str, Any]]:
        """At once, whatever the loop is doing: the loop checks fenced_by before
        it opens anything (act.py), and this uses a connection of its own."""
        if self.promoting and self.cfg.node < by:
            return 409, {"error": f"{self.cfg.node} is promoting itself"}
        self.edit(fenced_by=by, fenced_at=time.monotonic())
        self.write_track(False)
        v = self.view
        if v is not None and v.holds_vip and not v.keepalived_running:
            observe.drop_address(self.cfg.vip_device, self.cfg.vip, self.cfg.vip_prefix)
        try:
            self.fence_db.fence(self.cfg.app_user, stop_clients=self.stop_app)
            state = self.fence_db.probe()
        except DBError as exc:
            log.warning("fenced by %s; the database does not answer (%s)", by, exc)
            return 200, {"db_up": False}
        log.info("fenced by %s: read_only=ON, application sessions killed, VIP released", by)
        return 200, {"db_up": state.up, "read_only": state.read_only,
                     "gtid_binlog_pos": state.gtid_binlog_pos}

    def _switchover(self, force: bool) -> tuple[int, dict[str, Any]]:
        d = self.decision
        if d is not None and d.role == "primary":
            return 409, {"error": f"{self.cfg.node} is already the primary"}
        if not self.peer.paths and not force:
            return 409, {"error": f"{self.cfg.peer} does not answer: a switchover needs both "
                         "nodes (use --force to promote anyway)"}
        self.edit(switchover_to=self.cfg.node, force=force)
        self.wake.set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if self.memory.switchover_to == "":
                return 200, {"primary": self.cfg.node, "reason": self.decision.reason
                             if self.decision else ""}
        self.edit(switchover_to="", force=False)
        return 504, {"error": "the switchover did not finish within 30s",
                     "reason": self.decision.reason if self.decision else ""}


def fence_local(admin_password: str, admin_user: str, app_user: str) -> None:
    """What systemd runs when the agent stops: no writes without an agent."""
    try:
        Database(Endpoint(admin_user, admin_password)).fence(
            app_user, seconds=5, stop_clients=lambda: observe.kill_user_processes(APP_USER))
        log.info("agent stopped: local database set read_only=ON")
    except DBError as exc:
        log.warning("agent stopped; could not set read_only=ON: %s", exc)

