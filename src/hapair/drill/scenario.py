"""A drill's vocabulary: the context a fault runs in, one step (a fault and
its undoing), a scenario (steps in order). The table of them is scenarios.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hapair.drill.target import Lab
from hapair.lab import faults
from hapair.lab.plan import LabPlan
from hapair.ops.client import Agents
from hapair.spec.models import ClusterSpec

Target = Literal["primary", "standby"]


@dataclass(frozen=True)
class Ctx:
    lab: Lab  # the lab (its plan, agents, database, workload's account, CA and spec)
    node: str  # the node the step targets
    peer: str
    witness: str = ""  # the witness's machine ("" none)

    @property
    def plan(self) -> LabPlan:
        return self.lab.plan

    @property
    def agents(self) -> Agents:
        return self.lab.agents

    @property
    def password(self) -> str:
        """The drill user's, for a real user's sign-ins."""
        return self.lab.password

    @property
    def ca(self) -> str:
        """The CA file of the web's certificate ("" none)."""
        return self.lab.ca_file

    @property
    def spec(self) -> str:
        """The lab's spec file (a change is applied beside it)."""
        return self.lab.spec


Fn = Callable[[Ctx], object]


@dataclass(frozen=True)
class Step:
    """One fault on the node in the given role, and its undoing (None: the
    cluster must recover alone, e.g. systemd restarts a killed process)."""

    what: str
    target: Target
    fault: Fn
    recover: Fn | None
    hold_s: float = 4.0  # how long the fault lasts before recovery
    fenced: bool = False  # only for a cluster whose nodes have fence devices
    witness: bool = False  # only for a cluster with a witness
    needs: str = ""  # hardware it needs: "public-bond", "raid" (a lab of VMs)
    moves: bool = True  # whether the fault calls for the VIP to move (abuse: never)
    takes_s: float = 0.0  # what the fault and its recovery take themselves (an apply)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    steps: tuple[Step, ...]

    @property
    def fenced(self) -> bool:
        return any(s.fenced for s in self.steps)

    @property
    def witness(self) -> bool:
        return any(s.witness for s in self.steps)

    @property
    def needs(self) -> set[str]:
        return {s.needs for s in self.steps if s.needs}


def hardware_of(spec: ClusterSpec) -> set[str]:
    """What a cluster has that a scenario may need."""
    return ({"public-bond"} if spec.networks.public.bond else set()) | (
        {"raid"} if spec.storage else set())


def start(c: Ctx) -> object:
    from hapair.lab.lifecycle import files_of
    return faults.start(c.plan, c.node, files_of(c.plan).key)
