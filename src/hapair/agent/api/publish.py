"""This node's status document, from the last view and decision (pure)."""

from __future__ import annotations

from typing import Any

from hapair.agent.core import hardware
from hapair.agent.core.actions import Decision
from hapair.agent.core.view import LocalDB, Memory, View
from hapair.agent.node.journal import Recent
from hapair.model.roles import Role
from hapair.model.status import StatusDoc
from hapair.probes.mariadb import Thread


def status_doc(node: str, v: View | None, d: Decision | None, m: Memory,
               journal: Recent, now: float,
               wall: float) -> StatusDoc:
    db = v.db if v is not None else LocalDB(up=False, error="starting")
    s = db.slave
    doc = StatusDoc(
        node=node, time=wall,
        db_up=db.up, read_only=db.read_only, epoch=db.epoch, epoch_primary=db.epoch_primary,
        gtid_binlog_pos=db.gtid_binlog_pos, gtid_slave_pos=db.gtid_slave_pos,
        gtid_current_pos=db.gtid_current_pos, gtid_io_pos=s.gtid_io_pos,
        semi_master_on=db.semi.master_on, semi_clients=db.semi.master_clients,
        semi_master_enabled=db.semi_sync_master,
        io_running=s.io, sql_running=s.sql, master_host=s.master_host,
        last_io_error=s.last_io_error, last_sql_error=s.last_sql_error,
        holds_vip=bool(v and v.holds_vip and v.keepalived_running),
        keepalived_running=bool(v and v.keepalived_running),
        vrrp=v.vrrp if v else "UNKNOWN", view_age_s=round(now - v.now, 3) if v else 0.0,
        app_ok=bool(v and v.app_ok), apache_ok=bool(v and v.apache_ok),
        health_problem=v.health_problem if v else "", app_loading=v.app_loading if v else "",
        peer_paths=list(v.peer.paths) if v else [], pending=list(v.pending) if v else [],
        complete=m.complete, eligible=bool(d and d.eligible), paused=m.paused,
        maintenance=m.maintenance, degraded=m.degraded, fenced_by=m.fenced_by,
        role=d.role if d else Role.STARTING, reason=d.reason if d else "starting",
        problem=bool(d and d.problem), condition=d.condition if d else "",
        peer_off=bool(m.peer_off_at), fence_note=m.fence_note, fence_check=m.fence_check,
        stopping=m.stopping, peer_stopped=bool(m.peer_stopped_at),
        back_within_s=round(max(0.0, m.restart_until - now), 3) if m.restart_announced else 0.0,
        peer_back=m.peer_back_until > 0,
        task=m.task.what if m.task else "", task_s=round(now - m.task.since, 1) if m.task else 0,
        history=journal.decisions, promotions=journal.promotions,
        self_fences=journal.self_fences, **_witness(v, now),
        **(hardware.to_status(v.hardware) if v is not None else {}))
    if m.stopping:
        doc = doc.model_copy(update={"complete": False, "eligible": False,
                                     "reason": "stopping on purpose: the next agent here "
                                     "starts incomplete"})
    if m.task is not None and m.task.kind is Role.REBUILDING:
        # The primary must not wait for a node whose data is being replaced.
        doc = doc.model_copy(update={"db_up": False, "io_running": Thread.NONE,
                                     "complete": False, "eligible": False,
                                     "role": Role.REBUILDING})
    return doc


def endpoint_verdict(which: str, v: View | None, d: Decision | None) -> tuple[bool, str]:
    """/health (may hold the VIP), /primary, /replica: ok and one line."""
    if v is None or d is None:
        return False, "starting"
    if which == "health":
        return d.eligible, d.reason
    if which == "primary":
        return v.db.writable, d.role
    return (v.db.up and v.db.read_only and v.db.slave.io_running
            and v.db.slave.sql is Thread.RUNNING), d.role


def _witness(v: View | None, now: float) -> dict[str, Any]:
    w = v.witness if v is not None else None
    if w is None:
        return {}
    return {"witness": True, "witness_ok": w.ok, "witness_error": w.error[:200],
            "witness_leader": w.leader, "witness_epoch": w.leader_epoch,
            "witness_complete": w.complete,
            "witness_key_age_s": round(now - w.leader_seen, 1) if w.leader_seen else 0.0}


# What /status tells whoever asks without the read credential.
SUMMARY = ("version", "node", "time", "role", "reason", "db_up", "read_only", "holds_vip",
           "eligible", "complete", "paused", "maintenance", "degraded", "problem", "condition",
           "witness")


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in SUMMARY if k in doc} | {"summary": True}
