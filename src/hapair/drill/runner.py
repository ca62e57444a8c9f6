"""One drill run against a lab: settle, load, break, recover, resync, judge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hapair.drill import checker, sampler
from hapair.drill.scenario import Ctx, Scenario
from hapair.drill.space import booking_space
from hapair.drill.stress import Stress
from hapair.drill.target import DrillError, Lab, Say, mariadb, roles, settle
from hapair.lab import alert_sink
from hapair.lab import machine as m
from hapair.lab.lifecycle import files_of
from hapair.lab.plan import LabPlan
from hapair.lab.sh import LabError, in_netns
from hapair.model import gate as contract
from hapair.ops.client import Agents
from hapair.probes.mariadb import EPOCH_AGE, META_SCHEMA


@dataclass
class RunResult:
    scenario: str
    run: int
    verdict: checker.Verdict
    faults: list[dict[str, Any]]
    resync_s: float | None
    started: float
    history_file: str
    samples_file: str
    notes: list[str] = field(default_factory=list)
    # The first alert the lab's webhook receiver got after the fault: seconds
    # from the fault, and which (None: the spec names no webhook, or none came).
    alert_s: float | None = None
    alert: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["safe"] = self.verdict.safe
        return out


# ---- the cluster's state, from its agents -------------------------------------


def last_decisions(agents: Agents, n: int = 5) -> dict[str, dict[str, Any]]:
    """Each node's role, reason and last n decisions, or why it did not say."""
    out: dict[str, dict[str, Any]] = {}
    for s in agents.statuses():
        d = s.doc
        out[s.node] = ({"role": d.role.value, "reason": d.reason, "history": d.history[-n:]}
                       if d is not None else {"role": "", "history": [],
                                              "reason": f"no status: {s.unreachable}"})
    return out


def agent_journal(lab: Lab, lines: int = 40, since: float | None = None,
                  units: tuple[str, ...] = ("hapair-agent",)) -> dict[str, list[str]]:
    """Each running node's last agent log lines (what it tried and what
    failed: the decisions alone do not say why an action did not finish);
    with since (a Unix time), every line from then, up to `lines`."""
    out: dict[str, list[str]] = {}
    for node in (n.name for n in lab.agents.spec.nodes):
        machine = lab.plan.machine(node)
        if m.pid_of(lab.plan, machine) is None:
            out[node] = ["(powered off)"]
            continue
        try:
            r = subprocess.run(m.exec_argv(lab.plan, machine, [
                "journalctl", *(f"--unit={u}" for u in units), "-n", str(lines), "--no-pager",
                "-o", "short-precise",
                *([f"--since=@{int(since)}"] if since is not None else [])]),
                capture_output=True, text=True, timeout=30)
            out[node] = r.stdout.splitlines()[-lines:]
        except (subprocess.SubprocessError, OSError) as exc:
            out[node] = [f"(no journal: {exc})"]
    return out


def restore_power(plan: LabPlan) -> list[str]:
    """Boot every machine that is off (a fenced node stays off until someone acts)."""
    from hapair.lab import faults

    off = [x.name for x in plan.machines if m.pid_of(plan, x) is None]
    for name in off:
        try:
            faults.start(plan, name, files_of(plan).key)
        except LabError:  # fenced again while booting: the peer had not acted yet
            if m.pid_of(plan, plan.machine(name)) is None:
                faults.start(plan, name, files_of(plan).key)
    return off


# ---- samplers (inside each node) and the workload (in the client) ------------------


class Samplers:
    def __init__(self, plan: LabPlan, schema: str):
        self.plan = plan
        self.queries = [contract.ready_sql(schema), contract.SAMPLE_SQL]
        self.samples: dict[str, list[str]] = {mc.name: [] for mc in plan.machines}
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.stopping = threading.Event()
        self.source = Path(sampler.__file__).read_text()

    def start(self) -> None:
        for mc in self.plan.machines:
            threading.Thread(target=self._keep, args=(mc.name,), daemon=True).start()

    def _keep(self, name: str) -> None:
        machine = self.plan.machine(name)
        while not self.stopping.is_set():
            if m.pid_of(self.plan, machine) is None:
                time.sleep(0.5)
                continue
            try:
                argv = m.exec_argv(self.plan, machine,
                                   ["python3", "-c", self.source, sampler.MARK,
                                    *self.queries])
            except Exception:  # noqa: BLE001 - the machine is between states
                time.sleep(0.5)
                continue
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True)
            self.procs[name] = proc
            assert proc.stdout is not None
            for line in proc.stdout:
                self.samples[name].append(line.strip())
            proc.wait()
            time.sleep(0.5)

    def stop(self) -> dict[str, list[tuple[float, str]]]:
        self.stopping.set()
        for proc in self.procs.values():
            proc.kill()
        for mc in self.plan.machines:  # nsenter forked: stop the sampler itself
            if m.pid_of(self.plan, mc) is not None:
                subprocess.run(m.exec_argv(self.plan, mc, ["pkill", "-f", sampler.MARK]),
                               capture_output=True, timeout=30)
        return {n: checker.parse_samples("\n".join(lines)) for n, lines in self.samples.items()}


def start_workload(lab: Lab, seconds: float, out: Path, seed: int, clients: int,
                   space: tuple[int, tuple[int, ...]]) -> subprocess.Popen[str]:
    first_day, rooms = space
    vip = lab.agents.spec.vip.address
    tls = lab.agents.spec.web.tls != "off"
    argv = in_netns(lab.plan.client.name, [
        sys.executable, "-m", "hapair.drill.workload",
        "--base", f"https://{vip}" if tls else f"http://{vip}",
        *(["--ca", lab.ca_file] if tls and lab.ca_file else []),
        "--clients", str(clients), "--seconds", f"{seconds:.1f}", "--seed", str(seed),
        "--first-day", str(first_day), "--rooms", ",".join(map(str, rooms)),
        "--out", str(out)])
    env = {**os.environ, "ROOMBOOK_PASSWORD": lab.password}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready" not in line:
        _, err = proc.communicate(timeout=30)
        raise DrillError(f"the workload did not start: {err.strip()[-300:]}")
    return proc


def final_rows(lab: Lab, node: str) -> list[checker.Row]:
    r = mariadb(lab, node, checker.ROWS_SQL)
    if r.returncode != 0:
        raise DrillError(f"cannot read {node}'s bookings: {r.stderr.strip()[-200:]}")
    return checker.parse_rows(r.stdout)


# ---- one run -----------------------------------------------------------------------------


# How long ago the last promotion was, by the database's clock: the agents
# judge their anti-flap window by the same row and expression.
EPOCH_AGE_SQL = f"SELECT {EPOCH_AGE} FROM {META_SCHEMA}.epoch WHERE id = 1"  # noqa: S608


def window_left(window_s: float, age_answer: str) -> float:
    """Seconds a run waits before its fault so that a failover it causes is
    not refused by the window after the last one (pure): the window's rest
    and half a second, or the whole window when the age could not be read."""
    try:
        age = float(age_answer.strip())
    except ValueError:
        return window_s
    return max(0.0, window_s - age + 0.5) if age < window_s else 0.0


def load_bound(planned_s: float) -> float:
    """How long a run's load may last at most (pure). The load ends
    observe_s after the last step's recovery; its steps' own times
    (takes_s) are estimates, and a step can take longer (a rolling reboot
    102 s against 90), so the bound leaves them room: half the plan again,
    a minute at least."""
    return planned_s + max(60.0, planned_s / 2)


def run_once(lab: Lab, scenario: Scenario, run: int, out_dir: Path, say: Say,
             clients: int = 8, warmup_s: float = 3.0, observe_s: float = 8.0,
             seed: int = 1, stress: bool = False) -> RunResult:
    agents = lab.agents
    primary, standby, _ = settle(agents, 180, say)
    # The agents refuse a second automatic failover within the anti-flap
    # window: what is left of it, by the promotion epoch's age.
    try:
        age = mariadb(lab, primary, EPOCH_AGE_SQL, timeout=10).stdout
    except subprocess.TimeoutExpired:
        age = ""  # unread: the whole window
    time.sleep(window_left(min(agents.spec.timing.failover_window_s, 30), age))
    stem = f"{scenario.name}-{run:02d}"
    history_file, samples_file = out_dir / f"{stem}.history.jsonl", out_dir / f"{stem}.samples.json"
    history_file.unlink(missing_ok=True)
    seconds = load_bound(warmup_s + sum(step.hold_s + step.takes_s + observe_s
                                        for step in scenario.steps))
    samplers = Samplers(lab.plan, agents.spec.database.name)
    samplers.start()
    started = time.time()
    starved = Stress(lab.plan, primary, seconds) if stress else None
    if starved is not None:
        starved.start()
        say(f"run {run}: the host and {primary} starved (stress-ng) for up to {seconds:.0f}s")
    workload = start_workload(lab, seconds, history_file, seed + run, clients,
                              booking_space(lab, primary, seconds))
    done: list[dict[str, Any]] = []
    try:
        time.sleep(warmup_s)
        for step in scenario.steps:
            primary_now, standby_now, _ = roles(agents)
            node = (primary_now or primary) if step.target == "primary" else \
                (standby_now or standby)
            peer = next(n.name for n in agents.spec.nodes if n.name != node)
            w = agents.spec.witness
            ctx = Ctx(lab, node, peer, w.name if w else "")
            at = time.time()
            ctx_result = step.fault(ctx)
            say(f"run {run}: {step.what} on {node}")
            time.sleep(step.hold_s)
            recovered = time.time()
            after = None
            if step.recover is not None:
                undone = step.recover(ctx)
                after = undone if isinstance(undone, str) else None  # a summary to keep
                say(f"run {run}: recovered ({time.time() - at:.1f}s after the fault)"
                    + (f": {after}" if after else ""))
            done.append({"what": step.what, "node": node, "at": at, "recovered": recovered,
                         "result": str(ctx_result)[:200], "moves": step.moves,
                         **({"after": str(after)[:2000]} if after else {})})
            time.sleep(observe_s)
        # The load ends here, observe_s after the last recovery (each client
        # finishes its operation), not at a planned time: a step that took
        # less than its estimate leaves no idle load, one that took more is
        # still observed.
        workload.terminate()
        for name in restore_power(lab.plan):
            say(f"run {run}: {name} was powered off (fenced): powering it on, as an operator "
                "would")
        workload.wait(timeout=120)
        _, _, resync = settle(agents, 240, say)
        resync_s = time.time() - done[-1]["recovered"] if done else resync
    finally:
        if workload.poll() is None:
            workload.kill()
        if starved is not None:
            starved.stop()
        samples = samplers.stop()
    samples_file.write_text(json.dumps(samples))
    # Every run's agent logs, not only a failed run's: a run that passed
    # with a long wait explains itself only from them.
    (out_dir / f"{stem}.journal.json").write_text(json.dumps(
        agent_journal(lab, lines=3000, since=started - 1, units=("hapair-agent", "keepalived"))))
    history = [json.loads(line) for line in history_file.read_text().splitlines() if line]
    primary_end, _, _ = roles(agents)
    if primary_end is None:
        raise DrillError("no single primary after the run")
    finals = {n.name: final_rows(lab, n.name) for n in agents.spec.nodes}
    ended = max((op["ended"] for op in history), default=time.time())
    verdict = checker.check(history, finals, primary_end, samples, done[0]["at"], ended)
    alert_s, alert = first_alert(alert_sink.read(files_of(lab.plan).alerts), done[0]["at"])
    return RunResult(scenario.name, run, verdict, done, resync_s, started, str(history_file),
                     str(samples_file), alert_s=alert_s, alert=alert)


def first_alert(alerts: list[dict[str, Any]], fault_at: float) -> tuple[float | None, str]:
    """The first alert that arrived after the fault: (seconds after it, what)."""
    after = [a for a in alerts if a.get("received", 0) >= fault_at]
    if not after:
        return None, ""
    a = min(after, key=lambda x: x["received"])
    return (round(a["received"] - fault_at, 3),
            f"{a.get('event', '?')} from {a.get('node', '?')} ({a.get('role', '')})")
