"""The drill's clients: book rooms through the VIP as real clients would,
and write down every operation. Runs inside the lab's client namespace:

    python -m hapair.drill.workload --base http://10.54.0.100 --clients 8 \\
        --seconds 20 --out history.jsonl   (password in ROOMBOOK_PASSWORD)

Each operation is one booking with its own Idempotency-Key, retried with the
same key on errors and timeouts until it is confirmed (201/200), refused
(409), or it gives up (its outcome is then unknown: the checker looks for it
in the data). Clients draw from a small window of slots so they contend."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import ssl
import sys
import threading
import time
import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

ROOMS = (1, 2, 3, 4)
SLOTS_PER_DAY = 24  # 30-minute slots from 08:00


def slot_request(index: int, first_day: int = 1, rooms: tuple[int, ...] = ROOMS
                 ) -> dict[str, Any]:
    """The index-th slot of the booking space: rooms fastest, then slots, days
    (from first_day days ahead)."""
    room = rooms[index % len(rooms)]
    rest = index // len(rooms)
    day = date.today() + timedelta(days=first_day + rest // SLOTS_PER_DAY)
    slot = rest % SLOTS_PER_DAY
    return {"room_id": room, "date": day.isoformat(),
            "start": f"{8 + slot // 2:02d}:{30 * (slot % 2):02d}",
            "end": f"{8 + (slot + 1) // 2:02d}:{30 * ((slot + 1) % 2):02d}"}


def connect(base: str, timeout: float, ca: str = "") -> http.client.HTTPConnection:
    """A connection to base (http or https: the server's certificate checked
    against the CA file, the system's without one)."""
    u = urlsplit(base)
    if u.scheme == "https":
        context = ssl.create_default_context(cafile=ca or None)
        return http.client.HTTPSConnection(u.hostname or "", u.port or 443, timeout=timeout,
                                           context=context)
    return http.client.HTTPConnection(u.hostname or "", u.port or 80, timeout=timeout)


class Client:
    def __init__(self, base: str, token: str, timeout: float, ca: str = ""):
        self.base, self.ca = base, ca
        self.token = token
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: dict[str, Any], key: str) -> tuple[int, dict[str, Any], str]:
        """(status, JSON, node that served it); raises OSError on no answer."""
        if self.conn is None:
            self.conn = connect(self.base, self.timeout, self.ca)
        try:
            self.conn.request("POST", "/api/bookings", json.dumps(body),
                              {"Content-Type": "application/json", "Idempotency-Key": key,
                               "Authorization": f"Bearer {self.token}"})
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None
            raise OSError(str(exc)) from exc
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}
        return r.status, data if isinstance(data, dict) else {}, r.getheader("X-Served-By", "")


def login(base: str, email: str, password: str, deadline: float, ca: str = "") -> str:
    while True:
        try:
            conn = connect(base, 3, ca)
            conn.request("POST", "/api/login", json.dumps({"email": email, "password": password}),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = json.loads(r.read())
            if r.status == 200:
                return str(data["token"])
            if r.status == 401:
                raise SystemExit(f"login refused for {email}: {data}")
        except (OSError, ValueError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"could not sign in at {base}")
        time.sleep(0.2)


def one_operation(client: Client, index: int, give_up_s: float, first_day: int = 1,
                  rooms: tuple[int, ...] = ROOMS) -> dict[str, Any]:
    body = slot_request(index, first_day, rooms)
    key = uuid.uuid4().hex
    op: dict[str, Any] = {"key": key, **body, "sent": time.time(), "attempts": 0,
                          "outcome": "unknown", "booking_id": None, "node": "", "last_error": "",
                          "tries": []}
    deadline = time.monotonic() + give_up_s
    maybe_reached = False
    while True:
        op["attempts"] += 1
        began = time.time()
        try:
            status, data, node = client.post(body, key)
        except OSError as exc:
            maybe_reached = maybe_reached or "refused" not in str(exc).lower()
            op["last_error"] = str(exc)[:120]
            op["tries"].append([began, round(time.time() - began, 3), str(exc)[:40], ""])
        else:
            op["tries"].append([began, round(time.time() - began, 3), status, node])
            op["node"] = node
            if status in (200, 201):
                op.update(outcome="confirmed", booking_id=data.get("id"))
                break
            if status == 409:
                op["outcome"] = "conflict"
                break
            if status == 422 or 400 <= status < 500:
                op.update(outcome="rejected", last_error=f"{status} {data}"[:200])
                break
            # 5xx: 503 is the application saying nothing was saved; a 502 or
            # 500 may have been cut after a commit.
            maybe_reached = maybe_reached or status != 503
            op["last_error"] = f"{status} {data.get('error', '')}"[:120]
        if time.monotonic() > deadline:
            op["outcome"] = "unknown" if maybe_reached else "error"
            break
        time.sleep(0.05)
    op["ended"] = time.time()
    return op


def run(base: str, token: str, clients: int, seconds: float, window: int, seed: int,
        out: Any, give_up_s: float, first_day: int = 1, ca: str = "",
        rooms: tuple[int, ...] = ROOMS, ended: threading.Event | None = None) -> int:
    """Operations until `seconds` have passed or `ended` is set (the drill's
    SIGTERM), each one finished: none is left half-written. How many."""
    rng = random.Random(seed)
    lock = threading.Lock()
    state = {"next": 0, "count": 0}
    stop = time.monotonic() + seconds
    ended = ended or threading.Event()

    def worker(n: int) -> None:
        client = Client(base, token, timeout=1.0, ca=ca)
        local = random.Random(rng.random() + n)
        while time.monotonic() < stop and not ended.is_set():
            with lock:
                index = state["next"] + local.randrange(window)
                state["next"] += 1
            op = one_operation(client, index, give_up_s, first_day, rooms)
            op["client"] = n
            with lock:
                out.write(json.dumps(op) + "\n")
                out.flush()
                state["count"] += 1

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return state["count"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", required=True)
    ap.add_argument("--email", default="demo@roombook.test")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20,
                    help="at most this long; SIGTERM ends it sooner, each operation finished")
    ap.add_argument("--window", type=int, default=6, help="slots clients contend for")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--give-up", type=float, default=20.0)
    ap.add_argument("--first-day", type=int, default=1, help="book from this many days ahead")
    ap.add_argument("--rooms", default=",".join(map(str, ROOMS)),
                    help="the room ids to book, comma-separated")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ca", default="", help="the CA file that signed the HTTPS certificate")
    a = ap.parse_args(argv)
    password = os.environ.get("ROOMBOOK_PASSWORD", "")
    token = login(a.base, a.email, password, time.monotonic() + 30, a.ca)
    ended = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: ended.set())
    with open(a.out, "a") as out:
        print("ready", flush=True)
        n = run(a.base, token, a.clients, a.seconds, a.window, a.seed, out, a.give_up,
                a.first_day, a.ca, tuple(int(r) for r in a.rooms.split(",")), ended)
    print(f"{n} operations", file=sys.stderr)


if __name__ == "__main__":
    main()
