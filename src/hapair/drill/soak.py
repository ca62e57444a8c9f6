"""The soak: the cluster under booking load for a long time (an hour), a
seeded random fault from the whole scenario set in every round, and what
the minute-long drills cannot see checked throughout: nothing lost, nothing
doubled, never two writable (each round is a drill run, judged by the same
checker), never stuck (each fault is followed by bookings again within
STUCK_S, and the cluster settles), the VIP moved only by faults that call
for it, and no long-running process whose memory or open files keep
growing.

A round books under load from its warm-up through the fault, the recovery
and the observation after it. Between rounds the cluster settles and the
agents' anti-flap window passes (5 s on the labs), without load: roombook
books at most a year ahead, and a run of more than about a minute at the
drills' rate would fill that year (space.fits), so the load is cut into
rounds and the drills' bookings are cleared when the year is full.

The decisions are pure (`pick`, `warmup_for`, `judge`); `run` carries them
out against a lab."""

from __future__ import annotations

import random
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hapair.drill import resources
from hapair.drill.scenario import Scenario

# A fault after which no booking is confirmed for this long, or after which
# the cluster does not settle, left it stuck. The demo lab's longest by
# design is witness-then-standby (no majority: writes pause, about 12 s). A
# pair without a witness that loses its standby pauses writes until it is
# back, as long as its boot takes (power-cut-standby on the pair lab: 38 s,
# since the drills' load runs until after the recovery): a soak of the pair
# counts that as stuck.
STUCK_S = 30.0
# Memory (its anonymous part) or open files this much above their first
# judged readings, at the end of a program's longest unchanged stretch
# (resources.growth), and by more than its floors: a leak.
GROWTH_TOLERANCE = 0.10
# Load before each fault: long enough for the cluster to run as it does
# between faults, short enough that a round stays inside the booking year.
WARMUP_S = (10.0, 30.0)
ROUND_LIMIT_S = 50.0

def parse_duration(text: str) -> float:
    """"90s", "2m", "1h", "1h30m" -> seconds (pure); ValueError naming the text."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip())
    if not text.strip() or parts is None:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 2m, 1h, 1h30m)")
    h, m, s = (int(x) if x else 0 for x in parts.groups())
    seconds = h * 3600 + m * 60 + s
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration longer than 0")
    return float(seconds)


def pick(rng: random.Random, pool: list[Scenario]) -> Scenario:
    return pool[rng.randrange(len(pool))]


def warmup_for(rng: random.Random, scenario: Scenario, observe_s: float = 8.0) -> float:
    """Seconds of load before the fault (pure given the generator): random in
    WARMUP_S, cut so that the round's whole load stays within ROUND_LIMIT_S
    (3 s at least: the clients sign in and book before anything breaks)."""
    steps = sum(s.hold_s + s.takes_s + observe_s for s in scenario.steps)
    wanted = rng.uniform(*WARMUP_S)
    return round(max(3.0, min(wanted, ROUND_LIMIT_S - steps)), 1)


@dataclass(frozen=True)
class Verdict:
    rounds: int
    failed: tuple[str, ...]  # "round N scenario: why" (the cluster did not settle)
    unsafe: tuple[str, ...]  # rounds with a lost, double or two-writable finding
    slow: tuple[str, ...]  # rounds without a booking for longer than STUCK_S
    moved: tuple[str, ...]  # rounds whose VIP moved though their fault called for no move
    leaks: tuple[str, ...]  # "node program: memory x1.2, open files x1.0 over 600s"
    alerted: int  # rounds whose fault called for the VIP to move, it moved, and an alert came
    called: int  # rounds whose fault called for the VIP to move, and it moved
    readings: int  # resource readings taken (before the first fault included)
    judged: int = 0  # (machine, program) pairs whose growth was judged
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Nothing found, and something was checked: a soak with no round or
        no resource reading proves nothing."""
        return (self.rounds > 0 and self.readings >= 2 and not self.failed
                and not self.unsafe and not self.slow and not self.moved and not self.leaks)


Readings = list[resources.Reading]


def judge(results: list[dict[str, Any]], readings: Readings,
          stuck_s: float = STUCK_S, tolerance: float = GROWTH_TOLERANCE) -> Verdict:
    """The soak's verdict from its rounds (the drill's result records) and
    its resource readings (time, node -> program -> usage), pure. Growth is
    judged over each program's longest unchanged stretch (resources.growth):
    a soak's faults restart most programs, often more than once."""
    failed = tuple(f"round {r['run']} {r['scenario']}: {r['failed']}"
                   for r in results if "failed" in r)
    judged = [r for r in results if "failed" not in r]
    unsafe = tuple(f"round {r['run']} {r['scenario']}" for r in judged if not r["safe"])
    slow = tuple(f"round {r['run']} {r['scenario']}: no booking for "
                 f"{r['verdict']['unavailable_s']:.1f}s"
                 for r in judged if r["verdict"]["unavailable_s"] > stuck_s)
    calls = [r for r in judged if any(f.get("moves", True) for f in r["faults"])]
    moved = tuple(f"round {r['run']} {r['scenario']}: the VIP moved {r['verdict']['moves']} "
                  "time(s)" for r in judged
                  if r["verdict"].get("moves") and r not in calls)
    # An alert is due where the VIP did move: a fault that may move it can
    # also end without a move (a frozen agent that the watchdog kills and
    # systemd restarts before keepalived's check has failed twice), and
    # then no role changed and no alert is owed.
    called = [r for r in calls if r["verdict"].get("moves")]
    grown = resources.growth(readings)
    leaks = tuple(f"{g.node} {g.program}: memory x{g.mem_ratio:.2f} "
                  f"({g.judged_kb[0] // 1024}->{g.judged_kb[1] // 1024} MiB"
                  f"{' anonymous' if g.anon_from_kb else ''}), open files x{g.fds_ratio:.2f} "
                  f"over {g.seconds:.0f}s" for g in grown if not g.within(tolerance))
    notes = [] if grown else [f"no program ran unchanged through {resources.MIN_STRETCH} "
                              "readings: growth not judged (a short soak)"]
    return Verdict(rounds=len(results), failed=failed, unsafe=unsafe, slow=slow, moved=moved,
                   leaks=leaks,
                   alerted=sum(1 for r in called if r.get("alert_s") is not None),
                   called=len(called), readings=len(readings), judged=len(grown),
                   notes=tuple(notes))


# ---- carried out against a lab ------------------------------------------------------------


def read_resources(plan: Any) -> dict[str, dict[str, resources.Usage]]:
    """Every running machine's programs (a powered-off one is left out)."""
    from hapair.lab import machine as m

    out = {}
    for mc in plan.machines:
        if m.pid_of(plan, mc) is None:
            continue
        try:
            r = subprocess.run(m.exec_argv(plan, mc, ["python3", "-c", resources.PROBE]),
                               capture_output=True, text=True, timeout=60)
        except (subprocess.SubprocessError, OSError):
            continue
        if r.returncode == 0:
            out[mc.name] = resources.parse(r.stdout)
    return out


Round = Callable[[Scenario, int, float], dict[str, Any]]


def run(plan: Any, pool: list[Scenario], seconds: float, seed: int, one_round: Round,
        say: Callable[[str], None],
        saved: Callable[[list[dict[str, Any]], Readings], object] = lambda r, x: None,
        ) -> tuple[list[dict[str, Any]], Readings]:
    """Rounds until `seconds` have passed (a round that started finishes);
    one_round(scenario, n, warmup_s) runs and records one, returning its
    result record (with "failed": the cluster did not settle, and no later
    round can start). Resources are read before the first round and after
    each; saved(rounds, readings) after each round."""
    rng = random.Random(seed)
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    readings: Readings = [(time.time(), read_resources(plan))]
    n = 0
    while time.monotonic() - started < seconds:
        n += 1
        scenario = pick(rng, pool)
        warmup = warmup_for(rng, scenario)
        say(f"round {n}: {scenario.name} after {warmup:.0f}s of load "
            f"({time.monotonic() - started:.0f}s of {seconds:.0f}s)")
        result = one_round(scenario, n, warmup)
        results.append(result)
        readings.append((time.time(), read_resources(plan)))
        saved(results, readings)
        if "failed" in result:
            break
    return results, readings
