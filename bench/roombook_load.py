"""Bookings per second at 1, 8 and 32 concurrent clients: median and spread
over repeated runs. A figure, not a test.

    .venv/bin/python bench/roombook_load.py [--runs 5] [--seconds 5] [--baseline REV]
    .venv/bin/python bench/roombook_load.py --lab examples/lab-pair.toml [--baseline REV]

Without --lab: roombook under gunicorn (4 workers x 8 threads) on a MariaDB
of its own, with durable commits (innodb_flush_log_at_trx_commit=1).
With --lab: through an up lab's VIP from its client machine (Apache, TLS,
gunicorn, and commits that wait for the standby: semi-sync).

--baseline REV runs roombook as of that git revision too, in the same run:
locally a second gunicorn on the same database, runs interleaved with this
tree's; in a lab, applied to the nodes first, then this tree applied back.

Each client books its own (room, day, slot) slots with fresh idempotency
keys over one keep-alive connection, so every request is a real booking;
the bench's bookings are removed after every run."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date, timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import loadgen  # noqa: E402
from capacity import clear_all  # noqa: E402 - every chunk, not the first one alone

from hapair.drill.workload import login  # noqa: E402

# One client's slots: its room, and days from first_day on (24 half-hours a day).
Lane = tuple[int, int]


def slot_body(lane: Lane, index: int) -> dict[str, object]:
    room, first_day = lane
    day = date.today() + timedelta(days=first_day + index // 24)
    slot = index % 24
    return {"room_id": room, "date": day.isoformat(),
            "start": f"{8 + slot // 2:02d}:{30 * (slot % 2):02d}",
            "end": f"{8 + (slot + 1) // 2:02d}:{30 * ((slot + 1) % 2):02d}"}


def load(base: str, token: str, lanes: list[Lane], seconds: float, ca: str = ""
         ) -> tuple[float, int]:
    """One client per lane for `seconds`: confirmed bookings per second, and
    the number of requests that were not confirmed."""
    got = loadgen.run(base, ca, token, len(lanes), seconds,
                      lambda i, index, _: json.dumps(slot_body(lanes[i], index)))
    return float(got["rate"]), int(got["errors"])  # type: ignore[call-overload]


def summary(rates: list[float]) -> str:
    return (f"median {statistics.median(rates):7.1f} bookings/s "
            f"(min {min(rates):.1f}, max {max(rates):.1f}, {len(rates)} runs)")


def measure(targets: dict[str, Callable[[int], tuple[float, int]]], levels: list[int],
            runs: int, clear: Callable[[], None]) -> None:
    """Every level, `runs` rounds, each target once a round (interleaved, so
    that a slower moment of the machine falls on both)."""
    for clients in levels:
        rates: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(runs):
            for name, run in targets.items():
                rate, errors = run(clients)
                clear()
                rates[name].append(rate)
                if errors:
                    print(f"  {name}, {clients} clients: {errors} requests were not 201")
        for name, values in rates.items():
            print(f"{clients:>3} clients, {name:<9} {summary(values)}", flush=True)


def baseline_tree(rev: str) -> Path:
    """roombook's source as of a git revision, in a temporary folder."""
    out = Path(tempfile.mkdtemp(prefix="roombook-baseline-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "apps/roombook"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out / "apps" / "roombook"


# ---- locally: gunicorn on a MariaDB of the bench's own ------------------------------


def local(args: argparse.Namespace, levels: list[int]) -> None:
    from tests.roombook.conftest import PASSWORD, make_app
    from tests.support import servers

    base_dir = Path(tempfile.mkdtemp(prefix="roombook-bench-"))
    with ExitStack() as stack:
        db = stack.enter_context(servers.mariadb(base_dir / "db", durable=True))
        make_app(db.url(), base_dir)
        lanes = [(room, 1) for room in add_rooms(db.url(), max(levels))]
        servers_of = {"this tree": None}
        if args.baseline:
            servers_of = {args.baseline[:12]: baseline_tree(args.baseline) / "src", **servers_of}
        targets: dict[str, Callable[[int], tuple[float, int]]] = {}
        for name, source in servers_of.items():
            url = stack.enter_context(servers.gunicorn(db.url(), base_dir / "up", workers=4,
                                                       threads=8, source=source))
            token = login(url, "alice@example.com", PASSWORD, time.monotonic() + 30)
            targets[name] = partial(lambda u, t, c: load(u, t, lanes[:c], args.seconds),
                                    url, token)

        def clear() -> None:
            clear_all(lambda q: db.root(f"USE roombook; {q}"))

        print("roombook on MariaDB (durable commits), gunicorn 4 workers x 8 threads, "
              f"load generator on the same {os.cpu_count()} cores", flush=True)
        measure(targets, levels, args.runs, clear)


def add_rooms(url: str, count: int) -> list[int]:
    from roombook.context import utcnow
    from roombook.models import Room

    from roombook import db

    maker = db.sessions(db.make_engine(url))
    with maker.begin() as s:
        rooms = [Room(name=f"bench-{i}", capacity=4, equipment="", created_at=utcnow())
                 for i in range(count)]
        s.add_all(rooms)
        s.flush()
        return [r.id for r in rooms]


# ---- through a lab's VIP ---------------------------------------------------------------


def lab_lanes(clients: int) -> list[Lane]:
    """The four sample rooms, 45 days each for 8 clients a room."""
    return [(1 + i % 4, 1 + (i // 4) * 45) for i in range(clients)]


def lab(args: argparse.Namespace, levels: list[int]) -> None:
    from hapair.lab import machine as m
    from hapair.lab.control import vip_holders
    from hapair.lab.lifecycle import files_of
    from hapair.lab.plan import plan_lab
    from hapair.lab.sh import in_netns
    from hapair.secrets import load_secrets
    from hapair.spec import load_spec

    spec_path = Path(args.lab).resolve()
    spec = load_spec(spec_path).spec
    plan = plan_lab(spec)
    files = files_of(plan)
    secrets = load_secrets(files.secrets)
    password = secrets.app["ROOMBOOK_DEMO_PASSWORD"].get_secret_value()
    assert secrets.pki is not None
    files.ca.write_text(secrets.pki.ca_cert)
    base = f"https://{spec.vip.address}" if spec.web.tls != "off" else f"http://{spec.vip.address}"

    def run(clients: int) -> tuple[float, int]:
        argv = in_netns(plan.client.name, [
            sys.executable, __file__, "--client", base, "--ca", str(files.ca),
            "--clients", str(clients), "--seconds", str(args.seconds)])
        r = subprocess.run(argv, capture_output=True, text=True,
                           env={**os.environ, "ROOMBOOK_PASSWORD": password})
        if r.returncode != 0:
            raise SystemExit(f"the load generator failed: {r.stderr.strip()[-500:]}")
        rate, errors = json.loads(r.stdout.strip().splitlines()[-1])
        return float(rate), int(errors)

    def clear() -> None:
        [primary] = vip_holders(plan, spec.vip.address)
        clear_all(lambda q: subprocess.run(
            m.exec_argv(plan, plan.machine(primary), ["mariadb", "-N", "-B",
                                                      spec.database.name, "-e", q]),
            check=True, capture_output=True, text=True).stdout)

    def apply(spec_file: Path, label: str) -> None:
        print(f"applying {label} to the lab ...", flush=True)
        r = subprocess.run([sys.executable, "-m", "hapair", "lab", "apply", str(spec_file)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"apply of {label} failed: {r.stdout[-1000:]}{r.stderr[-500:]}")

    print(f"roombook through the VIP {spec.vip.address} of lab {plan.cluster} (Apache, "
          "gunicorn, semi-sync commits), load generator in the lab's client", flush=True)
    if args.baseline:
        source = baseline_tree(args.baseline)
        old_spec = source.parent / spec_path.name
        text = spec_path.read_text()
        old_spec.write_text(text.replace(f'source = "{spec.web.source}"',
                                         f'source = "{source}"'))
        apply(old_spec, args.baseline)
        measure({args.baseline[:12]: run}, levels, args.runs, clear)
        apply(spec_path, "this tree")
    measure({"this tree": run}, levels, args.runs, clear)


def client_main(args: argparse.Namespace) -> None:
    """Inside the lab's client: one load, its figures as JSON on the last line."""
    token = login(args.client, "demo@roombook.test", os.environ["ROOMBOOK_PASSWORD"],
                  time.monotonic() + 30, args.ca)
    print(json.dumps(load(args.client, token, lab_lanes(args.clients), args.seconds, args.ca)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--baseline", metavar="REV", help="also roombook as of this revision")
    parser.add_argument("--lab", metavar="SPEC", help="through this up lab's VIP")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--ca", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        args.clients = int(args.clients)
        client_main(args)
        return
    levels = [int(c) for c in args.clients.split(",")]
    (lab if args.lab else local)(args, levels)


if __name__ == "__main__":
    main()
