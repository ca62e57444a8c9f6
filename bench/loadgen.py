"""The capacity benchmark's client: N keep-alive clients book for a few
seconds; the last line of its output is JSON: bookings per second, the
latency of every confirmed booking (median, p99) and the requests that were
not confirmed. Standard library only: it runs on the control host, in the
lab's client namespace and inside a lab node (python3 -c SOURCE), the same
code everywhere.

    python3 loadgen.py URL CLIENTS SECONDS [CA]
    (ROOMBOOK_PASSWORD; ROOMBOOK_EMAIL, demo@roombook.test by default)

Each client books its own (room, day, slot) lane with fresh idempotency
keys, so every request is a real booking: rooms 1-4, the year ahead shared
out between the lanes of a room (roombook books at most a year ahead)."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import urlsplit

EMAIL = "demo@roombook.test"


def connect(base: str, ca: str) -> http.client.HTTPConnection:
    u = urlsplit(base)
    if u.scheme == "https":
        context = ssl.create_default_context(cafile=ca or None)
        return http.client.HTTPSConnection(u.hostname or "", u.port or 443, timeout=30,
                                           context=context)
    return http.client.HTTPConnection(u.hostname or "", u.port or 80, timeout=30)


def login(base: str, ca: str, email: str, password: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = connect(base, ca)
            conn.request("POST", "/api/login", json.dumps({"email": email, "password": password}),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = json.loads(r.read())
            if r.status == 200:
                return str(data["token"])
        except (OSError, ValueError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"could not sign in at {base}")
        time.sleep(0.2)


def body(lane: int, index: int, clients: int) -> str:
    days = 360 // ((clients + 3) // 4)  # each room's year, shared by its lanes
    room, first_day = 1 + lane % 4, 1 + (lane // 4) * days
    day = date.today() + timedelta(days=first_day + (index // 24) % days)
    slot = index % 24
    return json.dumps({"room_id": room, "date": day.isoformat(),
                       "start": f"{8 + slot // 2:02d}:{30 * (slot % 2):02d}",
                       "end": f"{8 + (slot + 1) // 2:02d}:{30 * ((slot + 1) % 2):02d}"})


def run(base: str, ca: str, token: str, clients: int, seconds: float,
        make: Callable[[int, int, int], str] = body) -> dict[str, object]:
    """make(lane, index, clients): the index-th booking of a client's lane (JSON)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    codes: dict[str, int] = {}
    barrier = threading.Barrier(clients + 1)
    stop = [0.0]

    def client(i: int) -> None:
        conn = connect(base, ca)
        barrier.wait()
        index = 0
        while time.monotonic() < stop[0]:
            began = time.monotonic()
            try:
                conn.request("POST", "/api/bookings", make(i, index, clients),
                             {"Content-Type": "application/json",
                              "Authorization": f"Bearer {token}",
                              "Idempotency-Key": uuid.uuid4().hex})
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException) as exc:
                errors[i] += 1
                codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1
                conn.close()
                conn = connect(base, ca)
                continue
            index += 1
            if r.status == 201:
                latencies[i].append(time.monotonic() - began)
            else:
                errors[i] += 1
                codes[str(r.status)] = codes.get(str(r.status), 0) + 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    stop[0] = time.monotonic() + seconds
    start = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join()
    took = time.monotonic() - start
    every = sorted(x for lane in latencies for x in lane)
    p99 = every[min(len(every) - 1, round(0.99 * (len(every) - 1)))] if every else 0.0
    return {"rate": len(every) / took, "confirmed": len(every), "errors": sum(errors),
            "codes": codes,
            "median_ms": 1000 * statistics.median(every) if every else 0.0,
            "p99_ms": 1000 * p99, "seconds": took}


def main(argv: list[str]) -> None:
    base, clients, seconds = argv[0], int(argv[1]), float(argv[2])
    ca = argv[3] if len(argv) > 3 else ""
    token = login(base, ca, os.environ.get("ROOMBOOK_EMAIL", EMAIL),
                  os.environ.get("ROOMBOOK_PASSWORD", ""))
    print(json.dumps(run(base, ca, token, clients, seconds)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
