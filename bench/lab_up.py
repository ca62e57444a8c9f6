"""How long `hapair lab up` takes from nothing until the VIP answers, how long a
no-change apply takes, and how much memory each machine uses.

    .venv/bin/python bench/lab_up.py [--runs 5] [--baseline REV] [SPEC]

Prints each run and then the median and spread. Not a test: figures.
--baseline REV runs hapair as of that git revision too, in the same run, its
runs interleaved with this tree's (each tree keeps its own wheel cache, warmed
by an untimed first run)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hapair.lab import container
from hapair.lab.plan import plan_lab
from hapair.lab.sh import in_netns
from hapair.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Tree:
    name: str
    spec: str
    env: dict[str, str]

    def hapair(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hapair", *args], capture_output=True,
                              text=True, env=self.env)


def baseline_tree(rev: str, spec: str) -> Tree:
    """hapair as of a git revision, in a temporary folder, run from its own
    source (the dependencies are this venv's)."""
    out = Path(tempfile.mkdtemp(prefix="hapair-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return Tree(rev[:12], str(out / Path(spec).resolve().relative_to(ROOT)),
                {**os.environ, "PYTHONPATH": str(out / "src")})


def machine_memory_mib(pid1: int) -> float:
    """Proportional set size of every process in the machine's PID namespace."""
    ns = os.readlink(f"/proc/{pid1}/ns/pid")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != ns:
                continue
            for line in Path(f"/proc/{entry}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def summary(name: str, values: list[float], unit: str = "s") -> str:
    med = statistics.median(values)
    return (f"{name}: median {med:.1f}{unit}, min {min(values):.1f}{unit}, "
            f"max {max(values):.1f}{unit} over {len(values)} runs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec", nargs="?", default="examples/lab.toml")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", metavar="REV", help="also hapair as of this revision")
    args = parser.parse_args()
    spec = load_spec(args.spec).spec
    plan = plan_lab(spec)
    curl = in_netns(plan.client.name, ["curl", "-fsS", "-m", "1", f"http://{spec.vip.address}/"])
    trees = [Tree("this tree", args.spec, dict(os.environ))]
    if args.baseline:
        # The trees' wheels differ: each keeps its own cache, or each run
        # would build the other's wheels again.
        trees = [baseline_tree(args.baseline, args.spec),
                 Tree("this tree", args.spec, {**os.environ, "HAPAIR_WHEEL_CACHE":
                                                "/var/cache/hapair/wheels-bench"})]
        for tree in trees:
            print(f"{tree.name}: a first, untimed lab up (wheels made and cached)", flush=True)
            tree.hapair("lab", "down", tree.spec)
            if tree.hapair("lab", "up", tree.spec).returncode != 0:
                sys.exit(f"{tree.name}: lab up failed")
    ups: dict[str, list[float]] = {t.name: [] for t in trees}
    applies: dict[str, list[float]] = {t.name: [] for t in trees}
    memory: dict[str, list[float]] = {}
    for run in range(1, args.runs + 1):
        for tree in trees:
            tree.hapair("lab", "down", tree.spec)
            start = time.monotonic()
            up = tree.hapair("lab", "up", tree.spec)
            if up.returncode != 0:
                sys.exit(f"lab up failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
            while subprocess.run(curl, capture_output=True).returncode != 0:
                if time.monotonic() - start > 600:
                    sys.exit("the VIP did not answer within 600 s")
                time.sleep(0.1)
            ups[tree.name].append(time.monotonic() - start)
            t = time.monotonic()
            again = tree.hapair("lab", "apply", tree.spec)
            applies[tree.name].append(time.monotonic() - t)
            if "no changes" not in again.stdout:
                print("warning: the second apply changed something", file=sys.stderr)
            for machine in plan.machines:
                memory.setdefault(f"{tree.name}, {machine.name}", []).append(
                    machine_memory_mib(container.leader_pid(plan, machine)))
            print(f"run {run}, {tree.name}: VIP answered {ups[tree.name][-1]:.1f}s after lab "
                  f"up began; no-change apply {applies[tree.name][-1]:.1f}s; memory "
                  + ", ".join(f"{m.name} {memory[f'{tree.name}, {m.name}'][-1]:.0f} MiB"
                           for m in plan.machines), flush=True)
    trees[-1].hapair("lab", "down", args.spec)
    for tree in trees:
        print(summary(f"{tree.name}: lab up until the VIP answers", ups[tree.name]))
        print(summary(f"{tree.name}: no-change apply (wheels from cache, files compared over "
                      "SSH)", applies[tree.name]))
    for name, values in memory.items():
        print(summary(f"memory of {name} (PSS)", values, " MiB"))


if __name__ == "__main__":
    main()
