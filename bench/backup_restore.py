"""How long a backup of the lab's data takes (from the standby, prepared, the
static files too), and a restore to a moment (the backup and the binary logs
archived since, replayed up to it; the peer rebuilt), on the pair lab that
is up. Between the backup and the moment, WRITES transactions are committed
on the primary (in a table of the benchmark's own), so that each restore
replays them.

    .venv/bin/python bench/backup_restore.py [--runs 5] [SPEC]

Prints each run and then the median and spread. Not a test: figures."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import subprocess
import sys
import time


def hapair(*args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "hapair", *args], capture_output=True, text=True,
                       timeout=900)
    if r.returncode != 0:
        sys.exit(f"hapair {' '.join(args)} failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r


def write(spec: str, count: int) -> None:
    """count transactions on the primary, one row each."""
    status = json.loads(subprocess.run([sys.executable, "-m", "hapair", "status", spec,
                                        "--json"], capture_output=True, text=True).stdout)
    primary = next(n["node"] for n in status["nodes"] if n.get("role") == "primary")
    sql = ("CREATE DATABASE IF NOT EXISTS hapair_bench; CREATE TABLE IF NOT EXISTS "  # noqa: S608
           "hapair_bench.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40));\n"
           + "INSERT INTO hapair_bench.t (v) VALUES (UUID());\n" * count)
    subprocess.run([sys.executable, "-m", "hapair", "lab", "exec", spec, primary, "--",
                    "mariadb"], input=sql, text=True, capture_output=True, check=True)


def summary(name: str, values: list[float]) -> str:
    return (f"{name}: median {statistics.median(values):.1f}s, min {min(values):.1f}s, "
            f"max {max(values):.1f}s over {len(values)} runs")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec", nargs="?", default="examples/lab-pair.toml")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--writes", type=int, default=2000)
    args = parser.parse_args()
    backups: list[float] = []
    restores: list[float] = []
    for n in range(1, args.runs + 1):
        began = time.monotonic()
        r = hapair("backup", args.spec)
        backups.append(time.monotonic() - began)
        size = re.search(r"database ([0-9.]+ [kMG]?B)", r.stdout)
        write(args.spec, args.writes)
        time.sleep(1.5)
        moment = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        time.sleep(1.5)
        hapair("backup", args.spec, "--binlogs")
        began = time.monotonic()
        r = hapair("restore", args.spec, "--at", moment, "--yes", "--force")
        restores.append(time.monotonic() - began)
        replayed = re.search(r"and ([0-9]+) transaction", r.stdout)
        print(f"run {n}: backup {backups[-1]:.1f}s ({size.group(1) if size else '?'}), "
              f"restore {restores[-1]:.1f}s ({replayed.group(1) if replayed else '?'} "
              "transactions replayed)", flush=True)
    print(summary("backup (command, end to end)", backups))
    print(summary("restore to a moment (command, end to end, until both replicate)", restores))


if __name__ == "__main__":
    main()
