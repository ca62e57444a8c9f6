"""Where a booking's time goes: the same client (bench/loadgen.py), in one
run, interleaved, against

- `alone`: roombook under gunicorn on a MariaDB of its own on this host
  (durable commits, no TLS, no proxy, no replica), 3 workers x 4 threads as
  on the lab's nodes;
- `node`: a lab primary's gunicorn, from inside that node (no Apache, no
  TLS; commits wait for the standby: lossless semi-sync);
- `vip`: through the lab's VIP from its client machine (TLS, Apache,
  gunicorn, semi-sync): what people get;
- `vip-async` (with --async): the same with the spec's `database.durability
  = "async"` applied, then the spec applied back, in every round.

Per target and number of clients: bookings per second, the latency of a
confirmed booking (median, p99), the requests not confirmed; for the lab's
targets, the CPU seconds per 1,000 bookings of each program on each machine
(the agents, MariaDB, gunicorn, Apache, etcd...) and the primary's commits
per second and bookings per binlog group commit. A figure, not a test.

    .venv/bin/python bench/capacity.py --lab examples/lab.toml [--async] \\
        [--clients 1,8,32,128] [--runs 3] [--seconds 5] [--out out/capacity]"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hapair.drill import resources  # noqa: E402
from hapair.drill.soak import read_resources  # noqa: E402
from hapair.drill.space import CLEAR_SQL  # noqa: E402

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
GROUP_SQL = ("SHOW GLOBAL STATUS WHERE Variable_name IN "
             "('Binlog_commits', 'Binlog_group_commits')")
Run = Callable[[int], dict[str, Any]]


def parse_json_tail(text: str) -> dict[str, Any]:
    """The loadgen's answer: its last line."""
    return dict(json.loads(text.strip().splitlines()[-1]))


def parse_status(text: str) -> dict[str, int]:
    """`mariadb -N -B` name/value lines -> {name: int} (pure)."""
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        if value.strip().isdigit():
            out[name.strip()] = int(value)
    return out


def cpu_per_1000(before: dict[str, dict[str, resources.Usage]],
                 after: dict[str, dict[str, resources.Usage]], confirmed: int
                 ) -> dict[str, float]:
    """"node program" -> CPU seconds per 1,000 confirmed bookings between two
    readings, for programs whose processes lived through both (pure)."""
    out = {}
    for node in sorted(set(before) & set(after)):
        for program in sorted(set(before[node]) & set(after[node])):
            a, b = before[node][program], after[node][program]
            if a.pids & b.pids and confirmed:
                out[f"{node} {program}"] = round((b.cpu_s - a.cpu_s) * 1000 / confirmed, 3)
    return out


def clear_all(sql: Callable[[str], str]) -> None:
    """The bench's bookings removed, a chunk of CLEAR_SQL at a time (it says
    how many are left on its last line)."""
    for _ in range(10_000):
        if sql(CLEAR_SQL).strip().splitlines()[-1:] == ["0"]:
            return
    raise SystemExit("the bench's bookings could not be removed")


def with_async(spec_text: str) -> str:
    """The spec with `database.durability = "async"` (pure): the line
    changed, or added under [database] (semi-sync is the default)."""
    if 'durability = "semi-sync"' in spec_text:
        return spec_text.replace('durability = "semi-sync"', 'durability = "async"')
    if "\n[database]\n" not in spec_text:
        raise SystemExit("the spec has no [database] table to make asynchronous")
    return spec_text.replace("\n[database]\n", '\n[database]\ndurability = "async"\n', 1)


def spread(values: list[float]) -> str:
    return (f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"
            if values else "-")


def report(results: list[dict[str, Any]], levels: list[int]) -> str:
    """The Markdown tables (pure)."""
    by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by[(r["target"], r["clients"])].append(r)
    targets = list(dict.fromkeys(r["target"] for r in results))
    lines = ["| target | clients | bookings/s median (min-max) | latency median ms | "
             "latency p99 ms | not confirmed | runs |", "|---|---|---|---|---|---|---|"]
    for t in targets:
        for c in levels:
            got = by.get((t, c), [])
            if not got:
                continue
            lines.append(
                f"| {t} | {c} | {spread([g['rate'] for g in got])} | "
                f"{statistics.median(g['median_ms'] for g in got):.1f} | "
                f"{statistics.median(g['p99_ms'] for g in got):.1f} | "
                f"{sum(g['errors'] for g in got)} | {len(got)} |")
    lines += ["", "| ratio | clients | median of the rates |", "|---|---|---|"]
    rate = {k: statistics.median(g["rate"] for g in v) for k, v in by.items()}
    for a, b in (("vip", "alone"), ("node", "alone"), ("vip", "node"), ("vip", "vip-async")):
        for c in levels:
            if rate.get((a, c)) and rate.get((b, c)):
                lines.append(f"| {a} / {b} | {c} | {rate[(a, c)] / rate[(b, c)]:.2f} |")
    for t in targets:
        measured = [c for c in levels if by.get((t, c)) and by[(t, c)][0].get("cpu")]
        # 32 clients, the reference, where measured; else the most
        top = 32 if 32 in measured else max(measured, default=None)
        if top is None:
            continue
        cpu: dict[str, list[float]] = defaultdict(list)
        for g in by[(t, top)]:
            for k, v in g["cpu"].items():
                cpu[k].append(v)
        group = [g["bookings_per_group"] for g in by[(t, top)] if g.get("bookings_per_group")]
        lines += ["", f"**{t}, {top} clients**: CPU seconds per 1,000 bookings (median of "
                  f"{len(by[(t, top)])} runs); binlog group commits: "
                  f"{statistics.median(group) if group else 0:.2f} commits per group", "",
                  "| machine program | CPU s / 1,000 bookings |", "|---|---|"]
        for k, v in sorted(cpu.items(), key=lambda kv: -statistics.median(kv[1])):
            if statistics.median(v) >= 0.05:
                lines.append(f"| {k} | {statistics.median(v):.2f} |")
    return "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], levels: list[int], path: Path) -> None:
    """Bookings per second and p99 latency against clients, a line per target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by[(r["target"], r["clients"])].append(r)
    fig, (rate, p99) = plt.subplots(1, 2, figsize=(11, 4))
    for t in dict.fromkeys(r["target"] for r in results):
        xs = [c for c in levels if by.get((t, c))]
        rate.plot(xs, [statistics.median(g["rate"] for g in by[(t, c)]) for c in xs],
                  marker="o", label=t)
        p99.plot(xs, [statistics.median(g["p99_ms"] for g in by[(t, c)]) for c in xs],
                 marker="o", label=t)
    for ax, what in ((rate, "confirmed bookings/s (median)"), (p99, "p99 latency ms (median)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_xlabel("clients")
        ax.set_ylabel(what)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


class Lab:
    def __init__(self, spec_path: Path):
        from hapair.lab.lifecycle import files_of
        from hapair.lab.plan import plan_lab
        from hapair.secrets import load_secrets
        from hapair.spec import load_spec

        self.spec_path = spec_path
        self.spec = load_spec(spec_path).spec
        self.plan = plan_lab(self.spec)
        files = files_of(self.plan)
        secrets = load_secrets(files.secrets)
        assert secrets.pki is not None
        files.ca.write_text(secrets.pki.ca_cert)
        self.ca = str(files.ca)
        self.env = {**os.environ, "ROOMBOOK_PASSWORD":
                    secrets.app["ROOMBOOK_DEMO_PASSWORD"].get_secret_value()}

    def primary(self) -> str:
        from hapair.lab.control import vip_holders

        [holder] = vip_holders(self.plan, self.spec.vip.address)
        return str(holder)

    def sql(self, node: str, sql: str) -> str:
        from hapair.lab import machine as m

        r = subprocess.run(m.exec_argv(self.plan, self.plan.machine(node),
                                       ["mariadb", "-N", "-B", self.spec.database.name, "-e",
                                        sql]),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"{node}: {r.stderr.strip()[-300:]}")
        return r.stdout

    def measured(self, argv: list[str]) -> dict[str, Any]:
        """One load (argv runs the loadgen), with the machines' CPU and the
        primary's group commits read before and after."""
        primary = self.primary()
        cpu0, g0 = read_resources(self.plan), parse_status(self.sql(primary, GROUP_SQL))
        r = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"the load failed: {r.stderr.strip()[-500:]}")
        got = parse_json_tail(r.stdout)
        cpu1, g1 = read_resources(self.plan), parse_status(self.sql(primary, GROUP_SQL))
        commits = g1.get("Binlog_commits", 0) - g0.get("Binlog_commits", 0)
        groups = g1.get("Binlog_group_commits", 0) - g0.get("Binlog_group_commits", 0)
        got |= {"cpu": cpu_per_1000(cpu0, cpu1, int(got["confirmed"])), "primary": primary,
                "commits_per_s": commits / got["seconds"],
                "bookings_per_group": commits / groups if groups else 0.0}
        clear_all(lambda q: self.sql(primary, q))
        return got

    def vip(self, seconds: float) -> Run:
        from hapair.lab.sh import in_netns

        base = (f"https://{self.spec.vip.address}" if self.spec.web.tls != "off"
                else f"http://{self.spec.vip.address}")
        return lambda clients: self.measured(in_netns(self.plan.client.name, [
            sys.executable, str(LOADGEN), base, str(clients), str(seconds), self.ca]))

    def node(self, seconds: float) -> Run:
        from hapair.lab import machine as m

        def run(clients: int) -> dict[str, Any]:
            machine = self.plan.machine(self.primary())
            return self.measured(m.exec_argv(self.plan, machine, [
                "python3", "-c", LOADGEN.read_text(), f"http://127.0.0.1:{self.spec.web.port}",
                str(clients), str(seconds)]))
        return run

    def apply(self, spec_file: Path, label: str) -> None:
        print(f"applying {label} ...", flush=True)
        r = subprocess.run([sys.executable, "-m", "hapair", "lab", "apply", str(spec_file)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"apply of {label} failed: {r.stdout[-1000:]}{r.stderr[-500:]}")


def alone(stack: ExitStack, seconds: float) -> Run:
    """roombook on a MariaDB of its own on this host."""
    from tests.roombook.conftest import PASSWORD, make_app
    from tests.support import servers

    base_dir = Path(tempfile.mkdtemp(prefix="roombook-capacity-"))
    db = stack.enter_context(servers.mariadb(base_dir / "db", durable=True))
    make_app(db.url(), base_dir)
    url = stack.enter_context(servers.gunicorn(db.url(), base_dir / "up", workers=3, threads=4))
    env = {**os.environ, "ROOMBOOK_PASSWORD": PASSWORD, "ROOMBOOK_EMAIL": "alice@example.com"}

    def run(clients: int) -> dict[str, Any]:
        r = subprocess.run([sys.executable, str(LOADGEN), url, str(clients), str(seconds)],
                           capture_output=True, text=True, env=env, timeout=300)
        if r.returncode != 0:
            raise SystemExit(f"the load failed: {r.stderr.strip()[-500:]}")
        clear_all(lambda q: db.root(f"USE roombook; {q}"))
        return parse_json_tail(r.stdout)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lab", metavar="SPEC", help="an up lab's spec")
    ap.add_argument("--async", dest="async_", action="store_true",
                    help="also the lab with asynchronous replication (two applies a round)")
    ap.add_argument("--clients", default="1,8,32,128")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--out", type=Path, default=Path("out/capacity"))
    ap.add_argument("--report", type=Path, metavar="JSON",
                    help="only the tables and the plot, from an earlier run's capacity.json")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report:
        results = json.loads(args.report.read_text())
        print(report(results, levels))
        plot(results, levels, args.out / "capacity.png")
        return
    if not args.lab:
        ap.error("--lab SPEC: the lab to measure")
    lab = Lab(Path(args.lab).resolve())
    # Beside the spec: the paths in it (the application's source) are relative to it.
    async_spec = lab.spec_path.with_name(f".capacity-async-{lab.spec_path.name}")
    results: list[dict[str, Any]] = []
    with ExitStack() as stack:
        if args.async_:
            async_spec.write_text(with_async(lab.spec_path.read_text()))
            stack.callback(async_spec.unlink, missing_ok=True)
        targets = {"alone": alone(stack, args.seconds), "node": lab.node(args.seconds),
                   "vip": lab.vip(args.seconds)}
        print(f"{len(targets) + args.async_} targets x {levels} clients x {args.runs} runs of "
              f"{args.seconds:g}s, interleaved", flush=True)

        def measure(name: str, run: Run, clients: int, n: int) -> None:
            """One load, kept at once (a bench cut short keeps what it measured)."""
            got = run(clients) | {"target": name, "clients": clients, "run": n}
            results.append(got)
            (args.out / "capacity.json").write_text(json.dumps(results, indent=1))
            print(f"run {n}, {clients:>3} clients, {name:<9} {got['rate']:7.1f}/s, "
                  f"median {got['median_ms']:.1f} ms, p99 {got['p99_ms']:.1f} ms, "
                  f"{got['errors']} not confirmed", flush=True)

        for n in range(1, args.runs + 1):
            for clients in levels:
                for name, run in targets.items():
                    measure(name, run, clients, n)
            if args.async_:
                lab.apply(async_spec, "durability = async")
                for clients in levels:
                    measure("vip-async", lab.vip(args.seconds), clients, n)
                lab.apply(lab.spec_path, "the spec back (semi-sync)")
    table = report(results, levels)
    (args.out / "capacity.md").write_text(table)
    plot(results, levels, args.out / "capacity.png")
    print(table)


if __name__ == "__main__":
    main()
