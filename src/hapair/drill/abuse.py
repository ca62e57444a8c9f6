"""Abuse, not failure: a monitoring host that replays a node's status, and
attack traffic from another host on the client network; nothing of it may
move the VIP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

from hapair.drill.scenario import Ctx, start
from hapair.lab import faults
from hapair.secrets import read_token
from hapair.spec.models import ClusterSpec


class MonitorReplay:
    """A monitoring host (the lab's control point) that replays the standby's
    /status with the read-only credential, "as the primary" (X-Hapair-Node),
    every 50 ms while the primary is powered off. It must not count as the
    primary's sign of life: the standby would never take over."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def fault(self, c: Ctx) -> object:
        standby = c.agents.spec.node(c.peer)
        req = urllib.request.Request(c.agents.url(standby, "/status"), headers={
            "Authorization": f"Bearer {read_token(c.agents.token)}", "X-Hapair-Node": c.node})
        self.stop.clear()

        def replay() -> None:
            while not self.stop.is_set():
                try:
                    with urllib.request.urlopen(req, timeout=1, context=c.agents.tls) as r:
                        r.read()
                except OSError:
                    pass
                self.stop.wait(0.05)

        threading.Thread(target=replay, name="monitor-replay", daemon=True).start()
        faults.power_cut(c.plan, c.node)
        return None

    def recover(self, c: Ctx) -> object:
        self.stop.set()
        return start(c)


MONITOR = MonitorReplay()


class Attack:
    """Attack traffic from another host on the client network (an address of
    its own in the client's namespace) against the VIP and both nodes' own
    addresses, for hold_s, while a real user signs in every second; recover
    waits for it and returns its summary."""

    def __init__(self, args: tuple[str, ...], seconds: float,
                 more: Callable[[ClusterSpec], tuple[str, ...]] = lambda spec: ()) -> None:
        self.args, self.seconds, self.more = args, seconds, more  # more: from the spec
        self.proc: subprocess.Popen[str] | None = None

    def fault(self, c: Ctx) -> object:
        from hapair.lab.plan import client_address
        from hapair.lab.sh import in_netns

        spec = c.agents.spec
        source = client_address(spec, skip=1)
        ns = c.plan.client.name
        subprocess.run(in_netns(ns, ["ip", "addr", "replace", str(source), "dev",
                                     c.plan.client.link.inside]), check=True, timeout=10)
        tls = spec.web.tls != "off"
        targets = [str(spec.vip.address), *(str(n.public) for n in spec.nodes)]
        argv = in_netns(ns, [sys.executable, "-m", "hapair.drill.attack",
                             "--targets", ",".join(targets), "--vip", str(spec.vip.address),
                             "--source", str(source.ip), "--seconds", f"{self.seconds:g}",
                             *(["--tls"] if tls else []), *(["--ca", c.ca] if c.ca else []),
                             *self.args, *self.more(spec)])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, "ROOMBOOK_PASSWORD": c.password})
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def recover(self, c: Ctx) -> object:
        if self.proc is None:
            return None
        out, err = self.proc.communicate(timeout=60)
        self.proc = None
        try:
            return summarize_attack(json.loads(out.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            return f"the attack printed no summary: {err.strip()[-300:]}"


def summarize_attack(found: dict[str, Any]) -> str:
    """One line: what the targets answered, and the real user's sign-ins."""
    signins = found.get("signins", [])
    ok = [s for s, status in signins if status == 200]
    user = (f"real user: {len(ok)}/{len(signins)} sign-ins ok, slowest "
            f"{max((s for s, _ in signins), default=0):.2f}s")
    seen = "; ".join(f"{k} x{v}" for k, v in found.get("seen", {}).items())
    return f"{user}; attacker: {seen}"


ABUSE_S = 60.0
SLOW = Attack(("slow", "--bodies", "100", "--headers", "100"), ABUSE_S)
LOGINS = Attack(("logins", "--per-minute", "1000"), ABUSE_S)
ADVERTS = Attack(("vrrp",), ABUSE_S, lambda spec: (
    "--vrid", str(spec.vip.vrid),
    *(x for n in spec.nodes for x in ("--node", f"{n.public},{n.interconnect}"))))
