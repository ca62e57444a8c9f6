"""How long `hapair lab up` takes from nothing until the VIP answers, how long a
no-change apply takes, and how much memory each machine uses.

    .venv/bin/python bench/lab_up.py [--runs 5] [SPEC]

Prints each run and then the median and spread. Not a test: figures."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from hapair.lab import container
from hapair.lab.plan import plan_lab
from hapair.lab.sh import in_netns
from hapair.spec import load_spec


def hapair(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hapair", *args], capture_output=True, text=True)


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
    args = parser.parse_args()
    spec = load_spec(args.spec).spec
    plan = plan_lab(spec)
    curl = in_netns(plan.client.name, ["curl", "-fsS", "-m", "1", f"http://{spec.vip.address}/"])
    ups: list[float] = []
    applies: list[float] = []
    memory: dict[str, list[float]] = {}
    for run in range(1, args.runs + 1):
        hapair("lab", "down", args.spec)
        start = time.monotonic()
        up = hapair("lab", "up", args.spec)
        if up.returncode != 0:
            sys.exit(f"lab up failed:\n{up.stdout[-2000:]}\n{up.stderr[-2000:]}")
        while subprocess.run(curl, capture_output=True).returncode != 0:
            if time.monotonic() - start > 600:
                sys.exit("the VIP did not answer within 600 s")
            time.sleep(0.1)
        ups.append(time.monotonic() - start)
        t = time.monotonic()
        again = hapair("lab", "apply", args.spec)
        applies.append(time.monotonic() - t)
        if "no changes" not in again.stdout:
            print("warning: the second apply changed something", file=sys.stderr)
        for machine in plan.machines:
            memory.setdefault(machine.name, []).append(
                machine_memory_mib(container.leader_pid(plan, machine)))
        print(f"run {run}: VIP answered {ups[-1]:.1f}s after lab up began; "
              f"no-change apply {applies[-1]:.1f}s; memory "
              + ", ".join(f"{k} {v[-1]:.0f} MiB" for k, v in memory.items()), flush=True)
    hapair("lab", "down", args.spec)
    print(summary("lab up until the VIP answers", ups))
    print(summary("no-change apply (wheels from cache, files compared over SSH)", applies))
    for name, values in memory.items():
        print(summary(f"memory of {name} (PSS)", values, " MiB"))


if __name__ == "__main__":
    main()
