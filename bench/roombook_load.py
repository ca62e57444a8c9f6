"""Bookings per second through gunicorn on MariaDB, at 1, 8 and 32 concurrent
clients: median and spread over repeated runs. A figure, not a test.

    .venv/bin/python bench/roombook_load.py [--runs 5] [--seconds 5]

Each client books distinct (room, day, slot) slots with its own idempotency
keys, one keep-alive connection each, so every request is a real INSERT of a
booking and its slots (durable: innodb_flush_log_at_trx_commit=1)."""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.roombook.conftest import PASSWORD, make_app  # noqa: E402
from tests.support import servers  # noqa: E402


def login(base: str) -> str:
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request("POST", "/api/login", json.dumps({"email": "alice@example.com",
                                                   "password": PASSWORD}),
                 {"Content-Type": "application/json"})
    return str(json.loads(conn.getresponse().read())["token"])


def slot_body(room: int, index: int) -> dict[str, object]:
    """The index-th free slot of a room: a day ahead per 24 slots."""
    day = date.today() + timedelta(days=1 + index // 24)
    slot = index % 24
    return {"room_id": room, "date": day.isoformat(),
            "start": f"{8 + slot // 2:02d}:{30 * (slot % 2):02d}",
            "end": f"{8 + (slot + 1) // 2:02d}:{30 * ((slot + 1) % 2):02d}"}


def run(base: str, token: str, rooms: list[int], seconds: float,
        used: dict[int, int]) -> tuple[float, int]:
    """One client per room, each booking its room's next free slots."""
    u = urlsplit(base)
    ok = [0] * len(rooms)
    errors = [0] * len(rooms)
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(len(rooms))

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        barrier.wait()
        while time.monotonic() < stop:
            room = rooms[i]
            body = slot_body(room, used[room])
            used[room] += 1
            conn.request("POST", "/api/bookings", json.dumps(body),
                         {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                          "Idempotency-Key": uuid.uuid4().hex})
            r = conn.getresponse()
            r.read()
            if r.status == 201:
                ok[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(rooms))]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(ok) / (time.monotonic() - start), sum(errors)


def add_rooms(url: str, count: int) -> list[int]:
    from roombook.app import utcnow
    from roombook.models import Room

    from roombook import db

    maker = db.sessions(db.make_engine(url))
    with maker.begin() as s:
        rooms = [Room(name=f"bench-{i}", capacity=4, equipment="", created_at=utcnow())
                 for i in range(count)]
        s.add_all(rooms)
        s.flush()
        return [r.id for r in rooms]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", default="1,8,32")
    args = parser.parse_args()
    base_dir = Path(tempfile.mkdtemp(prefix="roombook-bench-"))
    with servers.mariadb(base_dir / "db", durable=True) as db:
        make_app(db.url(), base_dir)
        with servers.gunicorn(db.url(), base_dir / "up", workers=4, threads=8) as base:
            token = login(base)
            print("roombook on MariaDB (durable commits), gunicorn 4 workers x 8 threads, "
                  f"load generator on the same {__import__('os').cpu_count()} cores")
            levels = [int(c) for c in args.clients.split(",")]
            all_rooms = add_rooms(db.url(), sum(levels))
            used = dict.fromkeys(all_rooms, 0)
            for clients in levels:
                rooms, all_rooms = all_rooms[:clients], all_rooms[clients:]
                rates = []
                for _ in range(args.runs):
                    rate, errors = run(base, token, rooms, args.seconds, used)
                    rates.append(rate)
                    if errors:
                        print(f"  {clients} clients: {errors} requests were not 201")
                print(f"{clients:>3} clients: median {statistics.median(rates):7.1f} bookings/s "
                      f"(min {min(rates):.1f}, max {max(rates):.1f}, {args.runs} runs of "
                      f"{args.seconds:g}s)", flush=True)


if __name__ == "__main__":
    main()
