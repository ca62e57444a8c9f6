"""The agent's control loop: every cycle (and at once on a keepalived
transition) it reads one view, learns, decides, says why, and acts. Threads
around it: the HTTP API, the peer poller, keepalived's FIFO, the lease guard,
and long actions (tasks.py)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

from systemd_watchdog.systemd_watchdog import WatchDog

from hapair import tls
from hapair.agent import guard, restarting, stopping
from hapair.agent.act import carry_out
from hapair.agent.api.publish import status_doc
from hapair.agent.api.server import serve
from hapair.agent.core import events as ev
from hapair.agent.core import hardware
from hapair.agent.core.actions import Action, Decision, FencePeer, Rebuild
from hapair.agent.core.config import from_spec
from hapair.agent.core.decide import decide
from hapair.agent.core.learn import learn
from hapair.agent.core.view import LocalDB, Memory, Peer, View, as_closed
from hapair.agent.node import observe, witness
from hapair.agent.node.alerts import Alerts, AlertsConfig
from hapair.agent.node.db import Database, DBError, Endpoint
from hapair.agent.node.db_lease import LeaseRow
from hapair.agent.node.fencing import Abort, watch_device
from hapair.agent.node.fifo import FifoReader
from hapair.agent.node.health import HealthChecker
from hapair.agent.node.intent import Intent, IntentStore
from hapair.agent.node.journal import Journal
from hapair.agent.node.lost_acks import Releaser
from hapair.agent.node.metrics import Metrics
from hapair.agent.node.peer import Contact, PeerClient, PeerError
from hapair.agent.node.tasks import TaskRunner
from hapair.agent.node.write_gate import GateRow
from hapair.model.roles import Condition
from hapair.model.status import StatusDoc
from hapair.paths import (
    AGENT_CA,
    AGENT_CERT,
    AGENT_KEY,
    APP_USER,
    INTENT_FILE,
    NOTIFY_FIFO,
    PENDING_DIR,
    TRACK_FILE,
)
from hapair.secrets import peer_token
from hapair.spec.models import ClusterSpec, Node

log = logging.getLogger("hapair.agent")
SLOW_CYCLE_S = 0.6  # a cycle this long is said (standby.FRESH_VIEW_S is 1.0)
SLOW_CYCLE_EVERY_S = 5.0
REBUILD_RETRY_S = 20.0


class Agent:
    def __init__(self, spec: ClusterSpec, node: Node, token: str, admin_password: str,
                 replication_password: str, track_file: str = TRACK_FILE,
                 intent_file: str = INTENT_FILE, fence_password: str = "",
                 webhook_secret: str = "", etcd_password: str = ""):
        self.cfg = cfg = from_spec(spec, node)
        self.token = token
        self.admin_password = admin_password
        self.replication_password = replication_password
        self.fence_password = fence_password
        self.datadir = spec.database.datadir
        self.track_file = track_file
        self.db = Database(Endpoint(cfg.admin_user, admin_password))
        self.guard_db = Database(Endpoint(cfg.admin_user, admin_password))
        self.fence_db = Database(Endpoint(cfg.admin_user, admin_password))
        self.lease_row = LeaseRow(Database(Endpoint(cfg.admin_user, admin_password)),
                                  lambda at, late: guard.watch_closed(self, at, late),
                                  seen=Path(intent_file).with_name("lease-watch-seen"))
        self.gate_row = GateRow(Database(Endpoint(cfg.admin_user, admin_password)), cfg.app_db)
        self.acks = Releaser(Endpoint(cfg.admin_user, admin_password), log.warning)
        self.peer_client = PeerClient(cfg, peer_token(token), token, AGENT_CA)
        now = time.monotonic()
        self.contact = Contact(now, now, threading.Lock())
        self.intent = IntentStore(intent_file)
        saved = self.intent.load()
        # What a fresh agent does not know it assumes on the safe side: its
        # peer may hold every confirmed transaction (so a primary whose peer
        # is silent pauses writes rather than commit alone beside a peer that
        # may promote), and this node may not (so it does not promote).
        self.memory = Memory(paused=saved.paused, degraded=saved.degraded,
                             maintenance=saved.maintenance,
                             peer_complete=True)
        self.mlock = threading.Lock()  # the memory: the loop, commands and tasks edit it
        self.open_lock = threading.Lock()  # a fence against an opening (act.open_writes)
        self.slow_said_at = -SLOW_CYCLE_EVERY_S
        self.peer = Peer(None, ())
        self.wake = threading.Event()
        self.fifo = FifoReader(NOTIFY_FIFO, lambda _state: self.wake.set())
        self.tasks = TaskRunner(lambda task: self.record(ev.TaskChanged(task)), self.wake.set)
        self.health = HealthChecker(cfg.app_port, cfg.interval_s, self.wake)
        a = spec.alerts
        self.alerts = Alerts(AlertsConfig(a.hooks_dir, a.webhook, a.timeout_s, a.retries,
                                          spec.name, node.name, webhook_secret))
        self.probed: View | None = None  # the loop's last view; others read .view
        self.decision: Decision | None = None
        self.journal = Journal()
        self.metrics = Metrics()
        self.watchdog = WatchDog()  # systemd's (WatchdogSec); a no-op outside systemd
        self.cycle_started = self.guard_tick = time.monotonic()
        self.backup_lock = threading.Lock()  # one backup stream at a time
        self.keeper = witness.keeper_for(spec, node, etcd_password)
        self.etcd_leader = witness.leader_mover_for(spec, self.keeper) if self.keeper else None
        self.stop_asked = False  # systemd's SIGTERM (agent/stopping.py)
        self.started_at = time.time()  # a reboot's wait knows the node is back by it
        self.stop_read = False  # the peer's agent read this node's `stopping`

    @property
    def view(self) -> View | None:
        """The loop's last view, with what a self-fence closed since."""
        return as_closed(self.probed, self.memory)

    # ---- memory and the operator's intent -------------------------------------------
    def record(self, event: ev.Event) -> None:
        """What happened beside the loop (agent/core/events.py), into Memory."""
        with self.mlock:
            self.memory = ev.changed(self.memory, event)

    def fenced_by(self) -> str:
        return self.memory.fenced_by

    def save_intent(self) -> str:
        """Saves pause, degrade and maintenance for a restart; the problem, or ""."""
        m = self.memory
        try:
            self.intent.save(Intent(paused=m.paused, degraded=m.degraded,
                                    maintenance=m.maintenance))
            return ""
        except OSError as exc:
            log.error("could not save the operator's intent to %s: %s", self.intent.path, exc)
            return str(exc)

    # ---- threads ------------------------------------------------------------------------
    def run(self) -> None:
        began = time.monotonic()
        self.peer_client.context()
        port, context = self.cfg.agent_port, tls.server_context(AGENT_CERT, AGENT_KEY)
        servers = [serve(self, "127.0.0.1", port)]
        servers += [serve(self, address, port, context) for address in self.cfg.listen]
        for server in servers:
            threading.Thread(target=server.serve_forever, name="api", daemon=True).start()
        observe.end_linger(self.cfg.vip)  # left by an agent that died during one
        guard.report_stop_hook(self)
        self.fifo.start()
        threading.Thread(target=self._poller, name="poller", daemon=True).start()
        threading.Thread(target=self.health.run, name="health", daemon=True).start()
        threading.Thread(target=guard.run, args=(self,), name="guard", daemon=True).start()
        threading.Thread(target=self.lease_row.run, name="lease-row", daemon=True).start()
        threading.Thread(target=self.gate_row.run, name="gate-row", daemon=True).start()
        threading.Thread(target=guard.pinger, args=(self,), name="watchdog", daemon=True).start()
        if self.keeper is not None:
            threading.Thread(target=witness.run, args=(self.keeper, lambda: self.view,
                                                       self.cfg.interval_s),
                             name="witness", daemon=True).start()
        if self.etcd_leader is not None:
            threading.Thread(target=self.etcd_leader.run, args=(witness.primary_by_epoch(
                    lambda: self.view, self.cfg.node),), name="etcd-leader", daemon=True).start()
        if self.cfg.fence is not None:
            threading.Thread(target=watch_device, args=(self.cfg, self.fence_password, self.record),
                             name="fence-check", daemon=True).start()
        log.info("agent for %s on port %d (peer %s, lease %.1fs + %.1fs)", self.cfg.node,
                 self.cfg.agent_port, self.cfg.peer, self.cfg.lease_s, self.cfg.margin_s)
        signal.signal(signal.SIGTERM, self._asked_to_stop)
        restarting.inherit(self)  # a restart in place: a first look before deciding
        ready = False
        while not self.stop_asked:
            self.cycle_started = time.monotonic()
            try:
                self.cycle()
                restarting.settle(self, began)
            except Exception:  # noqa: BLE001 - the loop must go on
                log.exception("cycle failed")
            if not ready:
                self.watchdog.ready()  # systemd: started (the watchdog counts from here)
                ready = True
            self.wake.wait(self.cfg.interval_s)
            self.wake.clear()
        stopping.stop(self)
        stopping.exit_now()

    def _asked_to_stop(self, _signum: int, _frame: object) -> None:
        self.stop_asked = True
        self.wake.set()

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

    # ---- one cycle ------------------------------------------------------------------------
    def observe(self) -> View:
        cfg = self.cfg
        db = self.db.probe()
        app, apache = self.health.latest()
        hw = observe.hardware(cfg.bonds, cfg.array)
        link = observe.vip_link(cfg.vip_device, hardware.link_problem(hw, cfg.vip_device))
        now = time.monotonic()
        return View(now=now, node=cfg.node, keepalived_running=observe.keepalived_running(),
                    vrrp=self.fifo.state,
                    holds_vip=cfg.vip in observe.addresses(cfg.vip_device), db=db,
                    peer=self.peer, app_problem=app, apache_problem=apache, link_problem=link,
                    app_loading=self.health.loading,
                    commit_problem=self.lease_row.stuck(now) if self._should_commit(db) else "",
                    witness=self.keeper.state if self.keeper else None, hardware=hw,
                    pending=observe.pending(PENDING_DIR))

    def _should_commit(self, db: LocalDB) -> bool:
        """Writable, or the primary by its epoch: a `SET GLOBAL read_only = ON`
        that waits for the commit path (the lease watch's) already reads ON."""
        return db.up and (db.writable or db.epoch_primary == self.cfg.node)

    def cycle(self) -> None:
        began = time.monotonic()
        v = self.observe()
        looked = time.monotonic()
        lease_renewed, peer_seen = self.contact.read()
        with self.mlock:  # learn from the memory as it is now, and replace it whole
            seen = replace(self.memory, lease_renewed=lease_renewed, peer_seen=peer_seen)
            self.memory = learn(replace(v, memory=seen), self.cfg)
            v = replace(v, memory=self.memory)
        d = decide(v, self.cfg)
        self._record(v, d)
        if not d.eligible and time.monotonic() >= self.memory.drain_until:
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
        self._timed(looked - began, time.monotonic() - looked, d)

    def _timed(self, looking: float, rest: float, d: Decision) -> None:
        """One line for a cycle slow enough to age the view the peer reads
        towards its freshness limit (a standby holding the VIP takes an old
        view for a stuck loop), at most once a SLOW_CYCLE_EVERY_S."""
        now = time.monotonic()
        if looking + rest < SLOW_CYCLE_S or now - self.slow_said_at < SLOW_CYCLE_EVERY_S:
            return
        self.slow_said_at = now
        acts = ", ".join(type(a).__name__ for a in d.actions) or "none"
        log.warning("a slow cycle: %.2fs (looking %.2fs, deciding and acting %.2fs; actions: %s)",
                    looking + rest, looking, rest, acts)

    def task_failed(self, action: Action, exc: BaseException) -> None:
        """A long action (tasks.py) failed: one line; a rebuild waits before the next try."""
        self.metrics.acted(action, False)
        log.warning("%s failed: %s", type(action).__name__, exc)
        if isinstance(action, FencePeer):
            self.record(ev.FenceFailed(time.monotonic(), str(exc)))
        if isinstance(action, Rebuild):
            self.record(ev.RebuildLater(time.monotonic() + REBUILD_RETRY_S))

    def fence_counted(self, ok: bool) -> None:
        self.metrics.fences.labels("ok" if ok else "failed").inc()
        if not ok:
            self.alert("fence-failed", f"{self.cfg.peer} could not be powered off")

    def alert(self, event: str, detail: str) -> None:
        d = self.decision
        self.alerts.emit(event, d.role.value if d else "starting", detail)

    def _record(self, v: View, d: Decision) -> None:
        old, before = self.decision, self.probed
        self.probed, self.decision = v, d
        for event, detail in hardware.alerts(before.hardware if before else None, v.hardware):
            self.alerts.emit(f"hardware-{event}", d.role.value, detail)
        self.metrics.observe(v, d)
        if old is not None and old.role != d.role:
            self.alerts.emit("role-change", d.role.value, d.reason)
            self.journal.role_changed(time.time(), old.role, d.role, d.reason)
        if v.commit_problem and not (before and before.commit_problem):
            self.alerts.emit("commits-stuck", d.role.value, v.commit_problem)
        if d.condition is Condition.STANDBY_LOST and (old is None or old.condition != d.condition):
            self.alerts.emit("standby-lost", d.role.value, d.reason)
        if old is None or (old.reason, old.actions) != (d.reason, d.actions):
            acts = [type(a).__name__ for a in d.actions]
            log.info("%s%s", d.reason, f" -> {', '.join(acts)}" if acts else "")
            self.journal.decided(time.time(), d.role, d.reason, acts)

    def write_track(self, eligible: bool) -> None:
        v = self.view
        if (not eligible and v is not None and v.holds_vip
                and observe.read_text(self.track_file) == "0\n"):
            # keepalived drops the VIP from the link the moment it reads the
            # change: on lo first, so that no packet for it finds it nowhere
            # (keepalived's own linger, its notify script, comes milliseconds
            # later; a client's SYN in between was dropped and waited its 1 s
            # timeout in a roll's switchover, apply-app-env on the pair).
            observe.linger_for(self.cfg.vip, observe.LINGER_S)
        observe.write_if_changed(self.track_file, "0\n" if eligible else "1\n")

    def closed_itself(self, by: str, took_s: float, budget_s: float, what: str,
                      at: float | None = None) -> None:
        """A self-fence closed this node's database: one line, the journal
        (status) and the metrics, its measured term beside its budget."""
        over = " (over its budget)" if took_s > budget_s else ""
        log.log(logging.WARNING if over else logging.INFO,
                "%s closed the database %.3fs %s, its budget %.2fs%s", by, took_s, what,
                budget_s, over)
        self.journal.self_fenced(time.time() if at is None else at, by, took_s, budget_s, what)
        self.metrics.self_fenced(by, took_s, budget_s)

    def stop_app(self) -> None:
        """Commits are stuck waiting for an acknowledgement: kill the
        application's processes so that none of them can be told "done"."""
        log.warning("commits wait for an acknowledgement that will not come: killing the "
                    "application's processes before their sessions (systemd restarts it)")
        observe.kill_user_processes(APP_USER)

    def status(self) -> StatusDoc:
        doc = status_doc(self.cfg.node, self.view, self.decision, self.memory,
                         self.journal.recent(10), time.monotonic(), time.time())
        return doc.model_copy(update={"started_at": self.started_at})

