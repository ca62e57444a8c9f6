"""hapair lab: the spec's cluster as real machines on this host."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hapair.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    App,
    BuildOnNode,
    SpecArg,
    err,
    load_or_exit,
    out,
)
from hapair.deploy import wheels
from hapair.lab import bmc, faults, lifecycle, net
from hapair.lab import machine as m
from hapair.lab.control import build_wheels, forwarded, pages, run_apply, vip_holders
from hapair.lab.plan import (
    LabPlan,
    LabPlanError,
    plan_lab,
)
from hapair.lab.sh import LabError, in_netns
from hapair.secrets import load_secrets, new_secrets_file
from hapair.spec.models import ClusterSpec

lab = App(help="The cluster as real machines on this host (nspawn; QEMU for bonds, RAID).",
                  no_args_is_help=True)
fault = App(help="Faults for drills: power, links, partitions, processes, NICs, disks.",
                    no_args_is_help=True)
lab.add_typer(fault, name="fault")
def register(app: typer.Typer) -> None:
    app.add_typer(lab, name="lab")


def _plan(spec: Path) -> tuple[ClusterSpec, LabPlan]:
    if os.geteuid() != 0:
        err.print("[red]error[/red] the lab needs root (namespaces, mounts, machines)")
        raise typer.Exit(EXIT_BAD_INPUT)
    loaded = load_or_exit(spec, False)
    try:
        bmc.bmcs_of(loaded.spec)  # the fence devices the lab must simulate
        return loaded.spec, plan_lab(loaded.spec)
    except LabPlanError as exc:
        err.print(f"[red]error[/red] {spec}: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _require_up(plan: LabPlan) -> None:
    if not net.netns_exists(plan.control.name):
        err.print(f"[red]error[/red] lab {plan.cluster} is not up (hapair lab up SPEC)")
        raise typer.Exit(EXIT_FAILED)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error[/red] {exc}")
    return typer.Exit(EXIT_FAILED)


def say(msg: str) -> None:
    out.print(f"  {msg}")


@lab.command()
def up(spec: SpecArg, deploy: Annotated[bool, typer.Option(
        help="run `hapair apply` from the control point once the machines are up")] = True,
       build_on_node: BuildOnNode = None) -> None:
    """Boot every node as a machine, wire the networks, then apply the spec."""
    cluster, plan = _plan(spec)
    started = time.monotonic()
    try:
        lifecycle.up(plan, spec.read_text(), say)
        if deploy:
            house = build_wheels(cluster, spec, plan, say, tuple(build_on_node or ()))
        files = lifecycle.files_of(plan)
        if not files.secrets.exists():
            new_secrets_file(files.secrets, cluster.web.secrets,
                             tuple(n.name for n in cluster.nodes if n.fence),
                             ca_for=cluster.name)
        secrets = load_secrets(files.secrets)
        if secrets.pki is not None:
            files.ca.write_text(secrets.pki.ca_cert)
        passwords = {k: v.get_secret_value() for k, v in secrets.fence_passwords.items()}
        for b in bmc.start(plan, cluster, passwords, files.spec):
            say(f"{b.node}: BMC (ipmi_sim) on {b.ip}:{b.port}")
        if deploy:
            lifecycle.files_of(plan).alerts.unlink(missing_ok=True)
            sink = lifecycle.start_alert_sink(plan)
            say(f"alerts: the lab's webhook receiver on {sink}")
            say("apply: from the control point, over SSH")
            code = run_apply(plan, spec, house, files)
            if code != 0:
                raise LabError(f"apply failed (exit {code}); the lab stays up for a look: "
                               f"hapair lab status {spec}")
            took = lifecycle.wait_for_vip(plan, str(cluster.vip.address))
            say(f"the VIP {cluster.vip.address} answers ({took:.1f}s after apply)")
            lifecycle.start_forwarder(plan, str(cluster.vip.address), *forwarded(cluster))
            for port, node in pages(cluster):
                lifecycle.start_forwarder(plan, node.ssh, port, cluster.agent.port,
                                          plan.control.name)
    except (LabError, wheels.WheelError) as exc:
        raise _fail(exc) from None
    total = time.monotonic() - started
    out.print(f"[green]lab {plan.cluster} is up[/green] in {total:.1f}s: "
              f"{', '.join(m_.name for m_ in plan.machines)}; client {plan.client.link.address}")
    if deploy:
        port, vip_port = forwarded(cluster)
        scheme = "http" if vip_port == 80 else "https"
        out.print(f"open {scheme}://127.0.0.1:{port}/ (forwarded to the VIP "
                  f"{cluster.vip.address}:{vip_port} from inside the client)")
        if scheme == "https":
            out.print(f"  its certificate is from the lab's own CA: {lifecycle.files_of(plan).ca}")
        links = ", ".join(f"https://127.0.0.1:{port}/ ({node.name})"
                          for port, node in pages(cluster))
        out.print(f"status pages: {links}; any user name, the password from `hapair secrets "
                  f"read-token {lifecycle.files_of(plan).secrets}`")


@lab.command()
def apply(spec: SpecArg, dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
          only: Annotated[str | None, typer.Option(
              "--only", help="host: the machines only (files, bonds, RAID)")] = None,
          build_on_node: BuildOnNode = None,
          force: Annotated[bool, typer.Option(
              "--force", help="apply to a live cluster that is not settled")] = False) -> None:
    """Run `hapair apply` against the lab from its control point."""
    cluster, plan = _plan(spec)
    _require_up(plan)
    house = build_wheels(cluster, spec, plan, say, tuple(build_on_node or ()))
    extra = ((["--dry-run"] if dry_run else []) + (["--only", only] if only else [])
             + (["--force"] if force else []))
    raise typer.Exit(run_apply(plan, spec, house, lifecycle.files_of(plan), *extra))


@lab.command()
def down(spec: SpecArg) -> None:
    """Remove everything the lab made; safe to run twice and after a crash."""
    _, plan = _plan(spec)
    try:
        report = lifecycle.down(plan.cluster, say)
    except LabError as exc:
        raise _fail(exc) from None
    out.print(f"[green]lab {plan.cluster} is down[/green] "
              f"({len(report.machines)} machines, {len(report.namespaces)} namespaces removed)")


@lab.command()
def status(spec: SpecArg) -> None:
    """Machines, addresses, and who holds the VIP."""
    cluster, plan = _plan(spec)
    table = Table(title=f"lab {plan.cluster}")
    for col in ("machine", "state", "management", "interconnect", "public"):
        table.add_column(col)
    holders = vip_holders(plan, str(cluster.vip.address))
    addresses = {n.name: (str(n.interconnect), str(n.public)) for n in cluster.nodes}
    if cluster.witness is not None:
        addresses[cluster.witness.name] = ("", f"{cluster.witness.address} (witness)")
    for machine in plan.machines:
        running = m.pid_of(plan, machine) is not None
        state = "[green]running[/green]" if running else "[red]stopped[/red]"
        if machine.name in holders:
            state += f" [bold]VIP {cluster.vip.address}[/bold]"
        table.add_row(machine.name, state, str(machine.mgmt), *addresses[machine.name])
    table.add_row("client", "", "", "", str(plan.client.link.address))
    out.print(table)
    if len(holders) > 1:
        out.print(f"[bold red]the VIP is on {len(holders)} machines: {', '.join(holders)}[/]")


def _target_argv(plan: LabPlan, target: str, argv: list[str]) -> list[str]:
    _require_up(plan)
    if target == "client":
        return in_netns(plan.client.name, argv)
    if target == "control":
        return in_netns(plan.control.name, argv)
    try:
        return m.exec_argv(plan, plan.machine(target), argv)
    except KeyError as exc:
        raise _fail(LabError(str(exc))) from None
    except LabError as exc:  # a machine powered off: one line, with what to do
        raise _fail(LabError(f"{exc} (`hapair lab fault start SPEC {target}` boots it)")) \
            from None


TargetArg = Annotated[str, typer.Argument(help="node, client or control", metavar="TARGET")]


@lab.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec(spec: SpecArg, target: TargetArg,
         ctx: typer.Context) -> None:
    """Run a command in a machine, the client or the control point: lab exec SPEC NODE -- CMD"""
    _, plan = _plan(spec)
    if not ctx.args:
        err.print("[red]error[/red] no command given (lab exec SPEC NODE -- CMD)")
        raise typer.Exit(EXIT_BAD_INPUT)
    raise typer.Exit(subprocess.run(_target_argv(plan, target, list(ctx.args))).returncode)


@lab.command()
def shell(spec: SpecArg, target: TargetArg) -> None:
    """An interactive shell in a machine, the client or the control point."""
    _, plan = _plan(spec)
    raise typer.Exit(subprocess.run(_target_argv(plan, target, ["/bin/bash", "-l"])).returncode)


NodeArg = Annotated[str, typer.Argument(help="the node", metavar="NODE")]


def _fault(spec: Path, what: str, action: object) -> None:
    _, plan = _plan(spec)
    try:
        result = action(plan)  # type: ignore[operator]
    except (LabError, KeyError) as exc:
        raise _fail(exc) from None
    out.print(f"{what}" + (f" ({result})" if result not in (None, "") else ""))


@fault.command("power-cut")
def power_cut(spec: SpecArg, node: NodeArg) -> None:
    """Cut a machine's power (SIGKILL to its PID 1)."""
    _fault(spec, f"{node}: power cut", lambda p: faults.power_cut(p, node))


@fault.command("shutdown")
def shutdown_cmd(spec: SpecArg, node: NodeArg) -> None:
    """Shut a machine down cleanly."""
    _fault(spec, f"{node}: shut down", lambda p: faults.shutdown(p, node))


@fault.command("start")
def start_cmd(spec: SpecArg, node: NodeArg) -> None:
    """Boot a stopped machine on the disk it had."""
    _fault(spec, f"{node}: started",
           lambda p: f"SSH after {faults.start(p, node, lifecycle.files_of(p).key):.1f}s")


@fault.command("link-down")
def link_down(spec: SpecArg, node: NodeArg, network: str) -> None:
    """Cut one of a machine's links (interconnect or public)."""
    _fault(spec, f"{node}: {network} link down", lambda p: faults.link(p, node, network, False))


@fault.command("link-up")
def link_up(spec: SpecArg, node: NodeArg, network: str) -> None:
    """Restore one of a machine's links."""
    _fault(spec, f"{node}: {network} link up", lambda p: faults.link(p, node, network, True))


@fault.command("partition")
def partition(spec: SpecArg, a: NodeArg, b: NodeArg,
              network: Annotated[list[str] | None, typer.Option(
                  help="interconnect and/or public (default both)")] = None) -> None:
    """Silently drop everything between two machines (nftables on the bridges)."""
    nets = tuple(network) if network else faults.NETWORKS
    _fault(spec, f"{a} <-/-> {b}", lambda p: "on " + ", ".join(faults.partition(p, a, b, nets)))


@fault.command("heal")
def heal(spec: SpecArg) -> None:
    """Remove every partition."""
    _fault(spec, "partitions healed", faults.heal)


@fault.command("bmc-down")
def bmc_down(spec: SpecArg, node: NodeArg) -> None:
    """Take a node's simulated BMC away: its fence device stops answering."""
    _fault(spec, f"{node}: BMC down", lambda p: faults.bmc(p, node, False))


@fault.command("bmc-up")
def bmc_up(spec: SpecArg, node: NodeArg) -> None:
    """Bring a node's simulated BMC back."""
    _fault(spec, f"{node}: BMC up", lambda p: faults.bmc(p, node, True))


@fault.command("kill")
def kill(spec: SpecArg, node: NodeArg, process: str,
         signal: Annotated[str, typer.Option(help="signal name")] = "KILL") -> None:
    """Send a signal to every process of that name in a machine."""
    _fault(spec, f"{node}: SIG{signal} {process}",
           lambda p: f"{faults.kill(p, node, process, signal)} processes")


@fault.command("nic-down")
def nic_down(spec: SpecArg, node: NodeArg, nic: str) -> None:
    """Pull one NIC's virtual cable (a lab VM: eth0, ...); its bond carries on."""
    _fault(spec, f"{node}: {nic} cable pulled", lambda p: faults.nic(p, node, nic, False))


@fault.command("nic-up")
def nic_up(spec: SpecArg, node: NodeArg, nic: str) -> None:
    """Plug one NIC's virtual cable back."""
    _fault(spec, f"{node}: {nic} cable plugged", lambda p: faults.nic(p, node, nic, True))


@fault.command("disk-fail")
def disk_fail(spec: SpecArg, node: NodeArg, disk: str) -> None:
    """A data disk of a lab VM drops off the bus (/dev/vdb, ...): its array degrades."""
    _fault(spec, f"{node}: {disk} failed", lambda p: faults.disk_fail(p, node, disk))


@fault.command("disk-replace")
def disk_replace(spec: SpecArg, node: NodeArg, disk: str) -> None:
    """A blank disk in a failed one's place, added to the array: it rebuilds."""
    cluster, _ = _plan(spec)
    if cluster.storage is None:
        raise _fail(LabError(f"{spec} has no storage: no array to add {disk} to"))
    array = cluster.storage.array
    _fault(spec, f"{node}: {disk} replaced, added to {array}",
           lambda p: faults.disk_replace(p, node, disk, array))
