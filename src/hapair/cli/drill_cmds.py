"""`hapair drill`: fault scenarios under load against a lab, with a report."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hapair.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, SpecArg, err, load_or_exit, out


def register(app: typer.Typer) -> None:
    app.command()(drill)


def drill(
    spec: SpecArg,
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", help="a scenario name (repeatable); see --list")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every scenario")] = False,
    random_seed: Annotated[int | None, typer.Option(
        "--random", help="also a random sequence of faults from this seed")] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="runs per scenario")] = 1,
    clients: Annotated[int, typer.Option(help="concurrent booking clients")] = 8,
    out_dir: Annotated[Path, typer.Option("--out", help="where the report goes")] = Path(
        "out/drill"),
    list_: Annotated[bool, typer.Option("--list", help="list the scenarios")] = False,
    stress: Annotated[bool, typer.Option(
        "--stress", help="starve the host and the primary (stress-ng, CPU and I/O) "
        "during each run")] = False,
    soak: Annotated[str | None, typer.Option(
        "--soak", help="a soak this long (e.g. 1h, 90m): booking load and a random fault "
        "from the chosen scenarios (default: every one that applies) in each round")] = None,
    seed: Annotated[int, typer.Option(help="the soak's random choices")] = 1,
    attack_s: Annotated[float | None, typer.Option(
        "--attack-s", min=10, max=600, help="how long the attack scenarios (slow-clients, "
        "login-flood, spoof-vrrp) attack, in seconds (default 60)")] = None,
) -> None:
    """Prove the cluster: faults under booking load, an independent checker, a report.

    Only against a lab (hapair lab up SPEC): a drill cuts power and links."""
    from hapair.drill.scenario import Scenario, hardware_of
    from hapair.drill.scenarios import SCENARIOS, attack_for, random_scenario

    if list_:
        for name, s in SCENARIOS.items():
            out.print(f"{name:26} {s.description}")
        return
    cluster = load_or_exit(spec, False).spec
    fenced, witness = cluster.fenced, cluster.witness is not None
    hardware = hardware_of(cluster)
    applicable = [s for s in SCENARIOS.values()  # what applies to this cluster
                  if (fenced or not s.fenced) and (witness or not s.witness)
                  and s.needs <= hardware]
    chosen: list[Scenario] = list(applicable) if all_ else []
    for name in scenario or []:
        if name not in SCENARIOS:
            err.print(f"[red]error[/red] --scenario: no scenario {name!r} "
                      f"(one of: {', '.join(SCENARIOS)})")
            raise typer.Exit(EXIT_BAD_INPUT)
        if SCENARIOS[name].fenced and not fenced:
            err.print(f"[red]error[/red] --scenario {name}: the nodes of {spec} have no fence "
                      "devices")
            raise typer.Exit(EXIT_BAD_INPUT)
        if SCENARIOS[name].witness and not witness:
            err.print(f"[red]error[/red] --scenario {name}: {spec} names no witness")
            raise typer.Exit(EXIT_BAD_INPUT)
        if not SCENARIOS[name].needs <= hardware:
            missing = ", ".join(sorted(SCENARIOS[name].needs - hardware))
            err.print(f"[red]error[/red] --scenario {name}: {spec} has no {missing}")
            raise typer.Exit(EXIT_BAD_INPUT)
        chosen.append(SCENARIOS[name])
    if attack_s is not None:
        chosen = [attack_for(s, attack_s) for s in chosen]
    if random_seed is not None:
        chosen.append(random_scenario(random_seed))
    if soak is not None:
        _soak(spec, soak, seed, chosen or applicable, clients, out_dir, stress)
        return
    if not chosen:
        err.print("[red]error[/red] name a --scenario, --all or --random SEED (--list shows them)")
        raise typer.Exit(EXIT_BAD_INPUT)
    lab = _lab(spec)
    results = _run(lab, chosen, runs, clients, out_dir, stress)
    ok = _report(results, out_dir)
    if not ok:
        raise typer.Exit(EXIT_FAILED)


def _soak(spec: Path, duration: str, seed: int, pool: list[Any], clients: int,
          out_dir: Path, stress: bool) -> None:
    from hapair.drill import report, resources, soak

    try:
        seconds = soak.parse_duration(duration)
    except ValueError as exc:
        err.print(f"[red]error[/red] --soak: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    lab = _lab(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    out.print(f"[bold]soak[/bold] of {seconds:.0f}s, seed {seed}, faults from "
              f"{len(pool)} scenario(s)")
    def save(rounds: list[dict[str, Any]], readings: soak.Readings) -> soak.Verdict:
        """soak.json, written after every round: a soak cut short keeps its readings."""
        verdict = soak.judge(rounds, readings)
        (out_dir / "soak.json").write_text(json.dumps(
            {"seconds": seconds, "seed": seed, "verdict": {**asdict(verdict), "ok": verdict.ok},
             # each program over its longest unchanged stretch of readings
             "growth": [asdict(g) for g in resources.growth(readings)],
             "readings": [{"at": at, "nodes": {node: {p: asdict(u) | {"pids": sorted(u.pids)}
                                                      for p, u in programs.items()}
                                               for node, programs in got.items()}}
                          for at, got in readings]}, indent=1))
        return verdict

    rounds, readings = soak.run(
        lab.plan, pool, seconds, seed,
        lambda s, n, warmup: _one(lab, s, n, out_dir, results, clients=clients,
                                  stress=stress, warmup_s=warmup, seed=seed),
        lambda msg: out.print(f"[bold]{escape(msg)}[/bold]"), save)
    _report(rounds, out_dir)
    verdict = save(rounds, readings)
    try:
        report.plot_soak(rounds, readings, out_dir / "soak.png")
    except ImportError:
        err.print("[yellow]warning[/yellow] matplotlib is missing: no plot")
    style = "green" if verdict.ok else "bold red"
    out.print(f"[{style}]soak {'passed' if verdict.ok else 'FAILED'}[/{style}]: "
              f"{verdict.rounds} round(s), {len(verdict.failed)} stuck, "
              f"{len(verdict.unsafe)} unsafe, {len(verdict.slow)} without a booking for more "
              f"than {soak.STUCK_S:.0f}s, {len(verdict.moved)} with an uncalled-for VIP move, "
              f"{len(verdict.leaks)} growing of {verdict.judged} "
              f"judged; alerts for "
              f"{verdict.alerted} of {verdict.called} fault(s) that moved the VIP; "
              f"{verdict.readings} resource readings")
    for what in (*verdict.failed, *verdict.unsafe, *verdict.slow, *verdict.moved,
                 *verdict.leaks, *verdict.notes):
        out.print(f"  {escape(what)}")
    out.print(f"soak: {out_dir / 'soak.json'}, {out_dir / 'soak.png'}")
    if not verdict.ok:
        raise typer.Exit(EXIT_FAILED)


def _lab(spec: Path) -> Any:
    from hapair.drill.target import Lab
    from hapair.lab.lifecycle import files_of
    from hapair.lab.plan import LabPlanError, plan_lab
    from hapair.ops.client import Agents, enter_netns
    from hapair.secrets import SecretsError, load_secrets

    cluster = load_or_exit(spec, False).spec
    if os.geteuid() != 0:
        err.print("[red]error[/red] drills run against a lab, which needs root")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        plan = plan_lab(cluster)
    except LabPlanError as exc:
        err.print(f"[red]error[/red] {spec} cannot be a lab ({exc}): drills run only "
                  "against a lab cluster")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not os.path.exists(f"/run/netns/{plan.control.name}"):
        err.print(f"[red]error[/red] lab {plan.cluster} is not up (hapair lab up {spec}); "
                  "drills run only against a lab cluster")
        raise typer.Exit(EXIT_FAILED)
    try:
        secrets = load_secrets(files_of(plan).secrets)
    except SecretsError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    password = secrets.app.get("ROOMBOOK_DEMO_PASSWORD")
    if password is None:
        err.print("[red]error[/red] the lab's secrets have no ROOMBOOK_DEMO_PASSWORD")
        raise typer.Exit(EXIT_BAD_INPUT)
    # Agents are reached from the lab's control point, never from the host.
    enter_netns(plan.control.name)
    if secrets.pki is None:
        err.print("[red]error[/red] the lab's secrets have no [pki] table: take the lab down "
                  "and up again (its secrets are made with the cluster CA)")
        raise typer.Exit(EXIT_BAD_INPUT)
    agents = Agents(cluster, secrets.api_token.get_secret_value(), secrets.pki.ca_cert)
    ca = files_of(plan).ca
    ca.write_text(secrets.pki.ca_cert)
    return Lab(plan, agents, password.get_secret_value(), cluster.database.name, str(ca),
               str(spec.resolve()))


def _run(lab: Any, chosen: list[Any], runs: int, clients: int, out_dir: Path,
         stress: bool = False) -> list[dict[str, Any]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    total = len(chosen) * runs
    for s in chosen:
        for n in range(1, runs + 1):
            out.print(f"[bold]{s.name}[/bold] run {n}/{runs} "
                      f"({len(results) + 1}/{total}, {time.monotonic() - started:.0f}s in)")
            record = _one(lab, s, n, out_dir, results, clients=clients, stress=stress)
            if "failed" in record and not record.get("settled"):
                return results  # the cluster did not settle: no later run can start either
    return results


def _one(lab: Any, s: Any, n: int, out_dir: Path, results: list[dict[str, Any]],
         **how: Any) -> dict[str, Any]:
    """One run (run_once's options in `how`), printed and added to results
    (written to results.json at once); its record."""
    from hapair.drill.runner import agent_journal, last_decisions, run_once
    from hapair.drill.target import CheckFailed, DrillError
    from hapair.lab.sh import LabError

    try:
        r = run_once(lab, s, n, out_dir, lambda msg: out.print(f"  {msg}"), **how)
    except (DrillError, LabError, subprocess.SubprocessError, OSError) as exc:
        # (an apply that never ends, seen in a soak: MariaDB's shutdown hung)
        # The cluster did not settle. The summary is still written, this
        # run marked failed, with what each agent last decided, so that it
        # explains itself.
        err.print(f"[red]error[/red] {s.name} run {n}: {exc}")
        agents = last_decisions(lab.agents)
        for node, said in agents.items():
            err.print(f"  {node}: {escape(said['reason'])}")
        journal = agent_journal(lab)
        for node, lines in journal.items():
            err.print(f"  {node}'s agent, last lines:")
            for line in lines:
                err.print(f"    {escape(line)}", soft_wrap=True)
        record = {"scenario": s.name, "run": n, "failed": str(exc),
                  "agents": agents, "journal": journal, "safe": False,
                  "settled": isinstance(exc, CheckFailed)}
        results.append(record)
        (out_dir / "results.json").write_text(json.dumps(results, indent=1))
        return record
    v = r.verdict
    style = "green" if v.safe else "bold red"
    first = v.first_confirmed_after_fault_s
    out.print(f"  [{style}]{'safe' if v.safe else 'UNSAFE'}[/{style}]: "
              f"{v.confirmed} confirmed, {len(v.lost)} lost, {len(v.double)} double, "
              f"{len(v.two_writable)} two-writable of "
              f"{'/'.join(str(c) for _, c in v.samples)} read_only samples, "
              f"{v.unknown} unknown "
              f"({v.unknown_found} happened); no booking for {v.unavailable_s:.2f}s, "
              f"a client waited at most {v.longest_wait_s:.2f}s, "
              f"first after the fault {first if first is None else round(first, 2)}s; "
              f"VIP moved {v.moves} time(s); resync {r.resync_s:.1f}s; first alert "
              + (f"{r.alert_s:.2f}s after the fault: {r.alert}" if r.alert_s is not None
                 else "none heard"))
    unjudged = [f"{n}: too few read_only samples to judge" for n in v.unsampled]
    unjudged += [f"{n} answered nothing for {secs:.2f}s (not judged meanwhile), "
                 f"then writable beside another for {after:.2f}s (read_only off for "
                 f"{flag:.2f}s, writes refused by the lease meanwhile)"
                 for (n, _, secs), (_, after), (_, flag)
                 in zip(v.silences, v.after_resume, v.flag_after_resume, strict=False)]
    for what in (*v.lost[:5], *v.double[:5], *map(str, v.two_writable[:5]), *unjudged):
        out.print(f"    [red]{escape(what)}[/red]")
    record = {**r.to_json(), "stress": bool(how.get("stress"))}
    results.append(record)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    return record


def _report(results: list[dict[str, Any]], out_dir: Path) -> bool:
    from hapair.drill import report

    rows = report.summarize(results)
    table = Table(title="drill summary")
    for col in ("scenario", "runs", "lost", "double", "2 writable", "unknown",
                "unavailable s (median/p95/max)", "longest wait s (median/max)", "resync s",
                "alert s (median/max)", "VIP moves"):
        table.add_column(col)
    for r in rows:
        u = r["unavailable_s"]
        bad = "red" if not r["safe"] else "green"
        runs = f"{r['runs']}" + (f" ({r['failed']} failed)" if r["failed"] else "")
        table.add_row(f"[{bad}]{r['scenario']}[/{bad}]", runs, str(r["lost"]),
                      str(r["double"]), report.two_writable_cell(r),
                      f"{r['unknown']} ({r['unknown_found']} happened)",
                      f"{u['median']:.2f} / {u['p95']:.2f} / {u['max']:.2f}",
                      f"{r['longest_wait_s']['median']:.2f} / {r['longest_wait_s']['max']:.2f}",
                      f"{r['resync_s']['median']:.1f}", report.alert_cell(r),
                      report.moves_cell(r))
    out.print(table, width=out.width if out.is_terminal else 160)
    plots = {}
    for r in rows:
        if not r["judged"]:
            continue
        png = f"{r['scenario']}.png"
        try:
            report.plot([x for x in results if x["scenario"] == r["scenario"]
                         and "failed" not in x], out_dir / png)
            plots[r["scenario"]] = png
        except ImportError:
            err.print("[yellow]warning[/yellow] matplotlib is missing: no plots")
            break
    (out_dir / "summary.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "report.md").write_text(report.markdown(rows, plots))
    out.print(f"report: {out_dir / 'report.md'}, {out_dir / 'summary.json'}")
    return all(r["safe"] and not r["unwanted_moves"] for r in rows)
