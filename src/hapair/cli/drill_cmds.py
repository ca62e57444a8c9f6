"""`hapair drill`: fault scenarios under load against a lab, with a report."""

from __future__ import annotations

import json
import os
import time
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
) -> None:
    """Prove the cluster: faults under booking load, an independent checker, a report.

    Only against a lab (hapair lab up SPEC): a drill cuts power and links."""
    from hapair.drill.scenario import Scenario, hardware_of
    from hapair.drill.scenarios import SCENARIOS, random_scenario

    if list_:
        for name, s in SCENARIOS.items():
            out.print(f"{name:26} {s.description}")
        return
    cluster = load_or_exit(spec, False).spec
    fenced, witness = cluster.fenced, cluster.witness is not None
    hardware = hardware_of(cluster)
    chosen: list[Scenario] = []
    if all_:  # what applies to this cluster
        chosen = [s for s in SCENARIOS.values()
                  if (fenced or not s.fenced) and (witness or not s.witness)
                  and s.needs <= hardware]
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
    if random_seed is not None:
        chosen.append(random_scenario(random_seed))
    if not chosen:
        err.print("[red]error[/red] name a --scenario, --all or --random SEED (--list shows them)")
        raise typer.Exit(EXIT_BAD_INPUT)
    lab = _lab(spec)
    results = _run(lab, chosen, runs, clients, out_dir, stress)
    ok = _report(results, out_dir)
    if not ok:
        raise typer.Exit(EXIT_FAILED)


def _lab(spec: Path) -> Any:
    from hapair.drill.runner import Lab
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
    from hapair.drill.runner import DrillError, agent_journal, last_decisions, run_once
    from hapair.lab.sh import LabError

    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    total = len(chosen) * runs
    for s in chosen:
        for n in range(1, runs + 1):
            out.print(f"[bold]{s.name}[/bold] run {n}/{runs} "
                      f"({len(results) + 1}/{total}, {time.monotonic() - started:.0f}s in)")
            try:
                r = run_once(lab, s, n, out_dir, lambda msg: out.print(f"  {msg}"),
                             clients=clients, stress=stress)
            except (DrillError, LabError) as exc:
                # The cluster did not settle: no later run can start either.
                # The summary is still written, this run marked failed, with
                # what each agent last decided, so that it explains itself.
                err.print(f"[red]error[/red] {s.name} run {n}: {exc}")
                agents = last_decisions(lab.agents)
                for node, said in agents.items():
                    err.print(f"  {node}: {escape(said['reason'])}")
                journal = agent_journal(lab)
                for node, lines in journal.items():
                    err.print(f"  {node}'s agent, last lines:")
                    for line in lines:
                        err.print(f"    {escape(line)}", soft_wrap=True)
                results.append({"scenario": s.name, "run": n, "failed": str(exc),
                                "agents": agents, "journal": journal, "safe": False})
                (out_dir / "results.json").write_text(json.dumps(results, indent=1))
                return results
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
            results.append({**r.to_json(), "stress": stress})
            (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    return results


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
