"""Run an apply: connect over SSH (pyinfra), read the databases, plan, then
either print the plan (--dry-run) or carry it out and say what changed."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyinfra.api.config import Config
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.inventory import Inventory
from pyinfra.api.operations import run_ops
from pyinfra.api.state import BaseStateCallback, State
from pyinfra.context import ctx_host, ctx_state

from hapair.deploy import reach, roll, rolling, steps, venv_ops
from hapair.deploy.facts import FileDigests, FileTexts, MariaDB, PythonTarget
from hapair.deploy.roles import Roles, choose_roles
from hapair.deploy.wheels import Wheelhouse
from hapair.ops.client import Agents
from hapair.probes.mariadb import MariaDBState
from hapair.probes.python import ProbeError, Target
from hapair.render import render_cluster
from hapair.secrets import Secrets
from hapair.spec.models import ClusterSpec

Progress = Callable[[str], None]
# The (application, hapair) wheels for a node's Python.
WheelSource = Callable[[Target], tuple[Wheelhouse | None, Wheelhouse]]
# HAPAIR_APPLY_TIMING=1: each step's time across the hosts, as it ends.
TIMING = os.environ.get("HAPAIR_APPLY_TIMING") == "1"


class ApplyError(RuntimeError):
    pass


def _no_banner(record: logging.LogRecord) -> bool:
    """pyinfra says "The `files.block` operation is currently in beta!" once
    per host on every apply: a library's notice, not the user's news."""
    return "currently in beta" not in record.getMessage()


logging.getLogger("pyinfra").addFilter(_no_banner)  # pyinfra logs it on its own logger


class HostKeyRefused(ApplyError):
    """A host's SSH key is unknown or not the known one: the operator's input
    (known_hosts, --accept-new-host-keys) stopped the apply."""


@dataclass(frozen=True)
class SshOptions:
    key: Path | None = None
    known_hosts: Path | None = None
    accept_new_host_keys: bool = False


@dataclass
class NodeResult:
    changed: list[str] = field(default_factory=list)
    would_change: list[str] = field(default_factory=list)
    failed: str | None = None
    done: int = 0
    total: int = 0


@dataclass
class ApplyReport:
    roles_reason: str
    dry_run: bool
    nodes: dict[str, NodeResult]
    # A live cluster: the restarts rolled, one node at a time (or, on a dry
    # run, those that would be), and how long that took.
    roll: list[str] = field(default_factory=list)
    roll_s: float | None = None
    roll_error: str = ""

    @property
    def changed(self) -> bool:
        return any(r.changed for r in self.nodes.values())

    @property
    def ok(self) -> bool:
        return not self.roll_error and not any(r.failed for r in self.nodes.values())


class _Progress(BaseStateCallback):
    def __init__(self, say: Progress, names: dict[str, str]) -> None:
        self.say = say
        self.names = names
        self.began: dict[str, float] = {}
        self.connect_errors: dict[str, str] = {}

    def host_connect_error(self, state: State, host: object,  # type: ignore[override]
                           error: BaseException) -> None:
        self.connect_errors[str(host)] = str(error.args[0]) if error.args else str(error)

    def host_connect(self, state: State, host: object) -> None:  # type: ignore[override]
        self.say(f"{self.names.get(str(host), host)}: connected")

    def operation_start(self, state: State, op_hash: str) -> None:  # type: ignore[override]
        self.began[op_hash] = time.monotonic()

    def operation_end(self, state: State, op_hash: str) -> None:  # type: ignore[override]
        took = time.monotonic() - self.began.pop(op_hash, time.monotonic())
        if TIMING:
            self.say(f"{took:5.2f}s {', '.join(state.get_op_meta(op_hash).names)}")

    def operation_host_error(  # type: ignore[override]
        self, state: State, host: object, op_hash: str,
                             retry_count: int = 0, max_retries: int = 0) -> None:
        meta = state.get_op_meta(op_hash)
        self.say(f"{self.names.get(str(host), host)}: FAILED: {', '.join(meta.names)}")


def _hosts(spec: ClusterSpec) -> list[tuple[str, str, str, int]]:
    """(name, SSH host, user, port) of every host an apply converges."""
    hosts = [(n.name, n.ssh, n.ssh_user, n.ssh_port) for n in spec.nodes]
    w = spec.witness
    if w is not None:
        hosts.append((w.name, w.ssh_host, w.ssh_user, w.ssh_port))
    return hosts


def _inventory(spec: ClusterSpec, ssh: SshOptions) -> Inventory:
    hosts = []
    for name, target, user, port in _hosts(spec):
        data: dict[str, object] = {
            "ssh_user": user,
            "ssh_port": port,
            "node": name,
        }
        if ssh.key is not None:
            data["ssh_key"] = str(ssh.key)
        if ssh.known_hosts is not None:
            data["ssh_known_hosts_file"] = str(ssh.known_hosts)
        # pyinfra's own default is accept-new: a machine in the middle on the
        # first apply would receive every secret.
        data["ssh_strict_host_key_checking"] = "accept-new" if ssh.accept_new_host_keys else "yes"
        hosts.append((target, data))
    return Inventory((hosts, {}))


def _targets(spec: ClusterSpec, names: list[str] | None = None) -> str:
    return ", ".join(f"{name} ({user}@{target}:{port})" for name, target, user, port
                     in _hosts(spec) if names is None or name in names)


def apply(
    spec: ClusterSpec,
    secrets: Secrets,
    *,
    ssh: SshOptions,
    wheels: WheelSource | None,
    dry_run: bool,
    progress: Progress,
    install_packages: bool = True,
    host_only: bool = False,
    force: bool = False,
) -> ApplyReport:
    missing = secrets.missing_app_secrets(spec.web.secrets)
    if missing:
        raise ApplyError(f"the secrets file's [app] table lacks {', '.join(missing)} "
                         "(named by web.secrets in the spec); nothing was changed")
    no_fence = [n.name for n in spec.nodes if n.fence and n.name not in secrets.fence_passwords]
    if no_fence:
        raise ApplyError(f"the secrets file's [fence_passwords] table lacks "
                         f"{', '.join(no_fence)} (their fence devices need a password); "
                         "nothing was changed")
    if spec.witness is not None and secrets.pki is None:
        raise ApplyError("the spec names a witness but the secrets file has no [pki] table "
                         "(its CA and etcd's passwords): run `hapair secrets ca SECRETS SPEC`; "
                         "nothing was changed")
    names = {target: name for name, target, _, _ in _hosts(spec)}
    # Operations read their facts when they run, not when they are planned:
    # later steps depend on what earlier ones did (a started service, a volume).
    state = State(_inventory(spec, ssh), Config(CONNECT_TIMEOUT=5, FAIL_PERCENT=100),
                  check_for_changes=False)
    watcher = _Progress(progress, names)
    state.add_callback_handler(watcher)
    # While connecting pyinfra's own lines stay quiet: the one line below
    # says for each host why it was not reached.
    logging.getLogger("pyinfra").setLevel(logging.CRITICAL)
    try:
        with contextlib.suppress(PyinfraError):  # every host failed: told below
            connect_all(state)
    finally:
        logging.getLogger("pyinfra").setLevel(logging.WARNING)
    hosts = {name: state.inventory.get_host(target) for name, target, _, _ in _hosts(spec)}
    unreachable = [n for n, h in hosts.items() if h not in state.activated_hosts]
    if unreachable:
        errors = {_targets(spec, [name]): watcher.connect_errors.get(str(hosts[name]), "")
                  for name in unreachable}
        raise (HostKeyRefused if reach.refusals(errors) else ApplyError)(
            reach.unreachable_line(errors))
    try:
        databases: dict[str, MariaDBState | None] = {}
        for name, host in hosts.items():
            if spec.witness is not None and name == spec.witness.name:
                continue  # no database there
            try:
                databases[name] = host.get_fact(MariaDB)
            except PyinfraError:
                databases[name] = None  # not installed yet
        roles = choose_roles(spec, databases)
        progress(f"roles: {roles.reason}")
        agents = live_agents(spec, secrets, roles, host_only, force, progress, dry_run)
        deployment = steps.Deployment(
            spec=spec, secrets=secrets, hosts=hosts, rendered=render_cluster(spec),
            roles=roles, wheels={} if host_only or wheels is None else
            _wheels_per_node(spec, hosts, wheels, progress, _old_ca(secrets)),
            install_packages=install_packages, rolling=agents is not None,
            current={n.name: hosts[n.name].get_fact(FileTexts, paths=rolling.JUDGED)
                     for n in spec.nodes},
        )
        plan = steps.add_all(state, deployment, host_only=host_only)
        report = ApplyReport(roles.reason, dry_run, {name: NodeResult() for name in hosts})
        for op in plan.ops:
            report.nodes[op.node].total += 1
        if dry_run:
            _predict(state, plan, report)
            if agents is not None:
                report.roll = rolling.plan(_owed_after(plan), roles.primary.name,
                                           roles.replica.name).lines()
        else:
            progress(f"applying {len(plan.ops)} operations on {len(hosts)} hosts")
            try:
                run_ops(state)
            except PyinfraError as exc:
                progress(f"stopped: {exc}")
            _collect(plan, report)
            if agents is not None and report.ok:
                _roll(plan, agents, report, progress)
        return report
    finally:
        disconnect_all(state)


SETTLE_WAIT_S = 30.0  # apply waits this long for an unsettled cluster before refusing


def live_agents(spec: ClusterSpec, secrets: Secrets, roles: Roles, host_only: bool,
                force: bool, progress: Progress, dry_run: bool = False) -> Agents | None:
    """The agents, when this apply changes a live cluster (its restarts are
    then rolled); None for a new cluster, `--only host`, or `--force` on a
    cluster that is not settled. An unsettled live cluster is refused before
    anything changes."""
    if roles.fresh or host_only or secrets.pki is None:
        return None
    agents = Agents(spec, secrets.api_token.get_secret_value(), secrets.pki.ca_cert)
    statuses = agents.statuses()
    if all(s.doc is None for s in statuses):
        progress("roll: no agent answers (not started yet): restarts are done on every "
                 "node at once")
        return None
    now = roll.layout(agents, statuses)
    if not now.ok and not force and not dry_run:
        # A replica restarted a moment ago is complete again within seconds:
        # an operator's apply (or a test's) right after a change waits for it.
        progress(f"roll: waiting up to {SETTLE_WAIT_S:.0f}s for the cluster to settle "
                 f"({now.why})")
        with contextlib.suppress(roll.RollError):
            roll.wait_settled(agents, now.primary or "", progress, "the cluster to settle",
                              timeout=SETTLE_WAIT_S, any_primary=True)
        now = roll.layout(agents)
    if now.ok:
        progress(f"roll: the cluster is settled ({now.primary} primary, {now.standby} a "
                 "complete replica): restarts are rolled, the standby first")
        return agents
    if force:
        progress(f"roll: the cluster is not settled ({now.why}); --force: restarts are done "
                 "on every node at once")
        return None
    if dry_run:
        progress(f"roll: the cluster is not settled ({now.why}): apply would refuse to change "
                 "it (--force: restart on every node at once)")
        return None
    raise ApplyError(f"the cluster is not settled ({now.why}): a rolling apply needs a "
                     "primary and a complete replica, each answering; fix that first, or "
                     "--force to restart on every node at once; nothing was changed")


def _owed_after(plan: steps.Plan) -> dict[str, frozenset[str]]:
    """A dry run's guess of the notes each node will hold: those there now,
    and those the files that would change call for."""
    owed = {}
    for node in plan.d.spec.nodes:
        host = plan.d.hosts[node.name]
        files = plan.files.get(node.name, ())
        have = host.get_fact(FileDigests, paths=tuple(f.path for f in files))
        stale = {k for f in files if have.get(f.path) != (f.digest, f"{f.mode:o}")
                 for k in f.keys}
        if node.name in plan.d.wheels:  # new wheels: their venv's restart (a new hapair)
            with ctx_state.use(plan.state), ctx_host.use(host):
                stale |= {k for e in venv_ops.stale(plan.venvs.of(node)["envs"])
                          for k in e.keys}
        owed[node.name] = roll.pending(host) | stale
    return owed


def _roll(plan: steps.Plan, agents: Agents, report: ApplyReport, progress: Progress) -> None:
    now = roll.layout(agents)
    if not now.ok or now.primary is None or now.standby is None:
        report.roll_error = (f"the cluster is not settled after the changes ({now.why}); the "
                             "restarts stay noted: run apply again to roll them")
        return
    owed = {n.name: roll.pending(plan.d.hosts[n.name]) for n in plan.d.spec.nodes}
    todo = rolling.plan(owed, now.primary, now.standby)
    if not todo.steps:
        return
    report.roll = todo.lines()
    try:
        report.roll_s, moved = roll.carry_out(todo, plan.d.hosts, agents, now.primary,
                                              progress)
    except roll.RollError as exc:
        report.roll_error = str(exc)
        return
    progress(f"roll: done in {report.roll_s:.1f}s"
             + (", the VIP moved once" if moved else ", the VIP stayed"))


def _old_ca(secrets: Secrets) -> bool:
    from hapair import pki

    ca = secrets.pki
    return ca is not None and pki.lacks_key_id(pki.Pair(ca.ca_cert,
                                                        ca.ca_key.get_secret_value()))


def _wheels_per_node(spec: ClusterSpec, hosts: dict[str, Any], wheels: WheelSource,
                     progress: Progress, secrets_ca_lacks_key_id: bool = False,
                     ) -> dict[str, tuple[Wheelhouse | None, Wheelhouse]]:
    """Each node's Python, read first, and the wheels made for it (once per
    kind of Python): a node need not run the control host's."""
    targets: dict[str, Target] = {}
    for node in spec.nodes:
        try:
            targets[node.name] = hosts[node.name].get_fact(PythonTarget)
        except (PyinfraError, ProbeError) as exc:
            raise ApplyError(f"{node.name}: cannot tell which Python it runs ({exc}); "
                             "nothing was changed") from None
    if secrets_ca_lacks_key_id and any(t.python >= (3, 13) for t in targets.values()):
        raise ApplyError("the cluster CA's certificate has no Subject Key Identifier (made "
                         "by an older hapair) and nodes with Python 3.13 refuse every "
                         "certificate it signs: run `hapair secrets ca SECRETS SPEC --renew` "
                         "(the same key: nothing else changes); nothing was changed")
    made: dict[Target, tuple[Wheelhouse | None, Wheelhouse]] = {}
    for target in sorted(set(targets.values())):
        names = ", ".join(n for n, t in targets.items() if t == target)
        progress(f"python: {names} run{'s' if ',' not in names else ''} {target}")
        made[target] = wheels(target)
    return {name: made[target] for name, target in targets.items()}


def _predict(state: State, plan: steps.Plan, report: ApplyReport) -> None:
    with ctx_state.use(state):
        for op in plan.ops:
            result = report.nodes[op.node]
            with ctx_host.use(plan.d.hosts[op.node]):
                try:
                    will = op.meta.will_change
                except Exception as exc:  # a fact that cannot be read before earlier steps
                    result.would_change.append(f"{op.name} (after earlier steps: {exc})")
                    continue
            if will:
                result.would_change.append(op.name)


def _collect(plan: steps.Plan, report: ApplyReport) -> None:
    for op in plan.ops:
        result = report.nodes[op.node]
        if not op.meta.is_complete():
            continue
        if op.meta.did_error():
            result.failed = result.failed or op.name
            continue
        result.done += 1
        if op.meta.did_change():
            result.changed.append(op.name)
