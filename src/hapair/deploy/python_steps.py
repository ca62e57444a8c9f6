"""The application's and hapair's Python environments on the nodes: built
in the background from right after the configuration files (`build`),
waited for before anything uses them, then the application's setup, the
agent and the application started (`envs`)."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hapair.deploy import ops, venv_ops
from hapair.deploy.wheels import Wheelhouse, archive
from hapair.paths import APP_MIGRATION_ENV, APP_SECRETS_ENV, APP_USER, HAPAIR_VENV
from hapair.spec.models import ClusterSpec, Node

if TYPE_CHECKING:
    from hapair.deploy.steps import Deployment, Plan

WHEELS_DIR = "/opt/hapair/wheels"


class Venvs:
    """The venvs of each node, made once per wheelhouse (nodes of a kind share
    it), and the background builds started by one step for another to wait on."""

    def __init__(self, d: Deployment) -> None:
        self.d = d
        self.made: dict[Path, venv_ops.VenvSpec] = {}
        self.jobs: dict[str, str] = {}  # node name -> its build's job
        self.installers: dict[Path, venv_ops.Installer] = {}
        self.nodes = [n for n in d.spec.nodes if n.name in d.wheels]

    def _venv(self, house: Wheelhouse, path: str, label: str,
              keys: tuple[str, ...]) -> venv_ops.VenvSpec:
        if house.directory not in self.made:
            self.made[house.directory] = venv_ops.VenvSpec(
                path, tuple(str(w) for w in house.wheels), str(archive(house)),
                f"{WHEELS_DIR}/{label}", keys, tuple(str(s) for s in house.sources),
                tuple(str(b) for b in house.build))
        # One archive per wheelhouse; what a change calls for is each node's.
        return replace(self.made[house.directory], keys=keys)

    def of(self, node: Node) -> dict[str, Any]:
        app, agent = self.d.wheels[node.name]
        # Noted where it runs, the primary: the schema replicates from there,
        # and a note left on the other node would run it again after a switchover.
        primary = node.name == self.d.roles.primary.name
        setup = ("setup",) if self.d.spec.web.setup and primary else ()
        return {"jobs": self.jobs, "envs": tuple(
            self._venv(house, path, label, keys) for label, house, path, keys in (
                ("app", app, self.d.spec.web.venv, ("app", *setup)),
                ("hapair", agent, HAPAIR_VENV, ("agent",)))
            if house is not None)}

    def to_start(self, node: Node) -> dict[str, Any]:
        wheel = self.d.wheels[node.name][1].installer
        if wheel is not None and wheel not in self.installers:
            self.installers[wheel] = venv_ops.Installer(str(wheel))
        return {**self.of(node), "installer": self.installers.get(wheel) if wheel else None}

    def label(self) -> str:
        app, agent = self.d.wheels[self.nodes[0].name]
        return "python: " + ", ".join(f"{venv} from {len(h.wheels)} wheels" for h, venv in (
            (app, self.d.spec.web.venv), (agent, HAPAIR_VENV)) if h is not None)


def build(plan: Plan) -> None:
    """The venvs' build, started early: it runs while the database and the
    volume are set up, and `envs` waits for it."""
    plan.venvs = Venvs(plan.d)
    if plan.venvs.nodes:
        plan.op(plan.venvs.nodes, f"{plan.venvs.label()} (building meanwhile)",
                venv_ops.venvs_start, per_node=plan.venvs.to_start)


def envs(plan: Plan) -> None:
    d = plan.d
    nodes = list(d.spec.nodes)
    if plan.venvs.nodes:
        plan.op(plan.venvs.nodes, plan.venvs.label(), venv_ops.venvs_ready,
                per_node=plan.venvs.of)
    if d.spec.web.setup:
        # Once, on the primary: the schema replicates to the other node.
        plan.on_change([d.roles.primary], "setup", "app: setup on the primary",
                       app_setup_command(d.spec))
    for unit, key in (("hapair-agent", "agent"), ("hapair-app", "app")):
        plan.op(nodes, f"{unit}: running", ops.unit_started, unit=unit, clears=(key,))
        if not d.rolling:  # a live cluster's restarts are rolled (rolling.py)
            plan.on_change(nodes, key, f"{unit}: restart", f"systemctl restart {unit}")


def app_setup_command(spec: ClusterSpec) -> str:
    """The application's setup commands, as its user, in its environment."""
    # Each command as argv, every word quoted: nothing in it reaches the shell.
    steps = " && ".join(
        shlex.join(["runuser", "-u", APP_USER, "--", f"{spec.web.venv}/bin/{argv[0]}",
                    *argv[1:]])
        for argv in map(shlex.split, spec.web.setup))
    return (f"( set -a; . /etc/hapair/app.env; . {APP_SECRETS_ENV}; . {APP_MIGRATION_ENV}; "
            f"set +a; cd /tmp && {steps} )")
