"""The drill's judge, independent of the workload and of the controller: it
reads the history of operations, every node's final bookings and the
read_only samples, and reports what a client would care about. Pure."""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

SLOT_MINUTES = 30


@dataclass(frozen=True)
class Row:
    """One booking in a node's final data."""

    id: int
    room_id: int
    day: str
    start_slot: int
    end_slot: int
    key: str
    status: str = "confirmed"


# Each node's read_only sampler answers about 40 times a second: a run with
# fewer answers from a node than this cannot vouch that the two were never
# writable together (a sampler that printed nothing once passed for safe).
MIN_SAMPLES = 50
# A node whose sampler answered nothing for longer than this (its machine
# paused whole, or off) is not judged in between: what it would have said is
# not known. Such silences are reported beside the verdict, never hidden.
SILENCE_S = 0.5
# A resumed node writable together with another this long after its first
# answer is counted as the resume's (a later overlap is another fault's).
RESUME_WINDOW_S = 5.0


@dataclass(frozen=True)
class Verdict:
    operations: int
    confirmed: int
    conflicts: int
    errors: int
    unknown: int
    unknown_found: int  # unknown outcomes that did happen (found in the data)
    lost: tuple[str, ...]  # keys of confirmed bookings missing from the primary's data
    replica_missing: tuple[str, ...]  # ... missing from another node after resync
    double: tuple[str, ...]  # room/day/slot confirmed to two different bookings
    two_writable: tuple[float, ...]  # sample times when both nodes were writable
    unavailable_s: float  # the longest time without a confirmation around the fault
    first_confirmed_after_fault_s: float | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    # The longest one client's operation took (sent to its end, retries
    # included: confirmed, refused, or given up), over the operations that
    # ended after the fault: what a person at the booking form sat through.
    # Other clients' bookings may hide it from unavailable_s.
    longest_wait_s: float = 0.0
    samples: tuple[tuple[str, int], ...] = ()  # (node, read_only answers) for each node
    silences: tuple[tuple[str, float, float], ...] = ()  # (node, from, seconds) unanswered
    # (node, seconds) after each silence: still writable beside another node
    after_resume: tuple[tuple[str, float], ...] = ()
    # the same with the read_only flag alone (writes meanwhile refused by the gate)
    flag_after_resume: tuple[tuple[str, float], ...] = ()
    moves: int = 0  # times the VIP moved (the node confirming bookings changed)

    @property
    def unsampled(self) -> tuple[str, ...]:
        """Nodes whose read_only was sampled too little to judge."""
        return tuple(n for n, count in self.samples if count < MIN_SAMPLES)

    @property
    def safe(self) -> bool:
        return not (self.lost or self.double or self.two_writable or self.unsampled)


def slots_of(op: dict[str, Any]) -> list[tuple[int, str, int]]:
    def index(hhmm: str) -> int:
        h, m = hhmm.split(":")
        return (int(h) * 60 + int(m)) // SLOT_MINUTES

    return [(int(op["room_id"]), str(op["date"]), s)
            for s in range(index(op["start"]), index(op["end"]))]


def double_bookings(history: list[dict[str, Any]], rows: list[Row]) -> list[str]:
    """A slot confirmed to two different bookings: to clients (by the times
    they asked for) or in the data (by the application's slot numbers)."""
    told: dict[tuple[int, str, int], set[str]] = defaultdict(set)
    for op in history:
        if op["outcome"] == "confirmed":
            for s in slots_of(op):
                told[s].add(f"booking {op['booking_id']}")
    stored: dict[tuple[int, str, int], set[str]] = defaultdict(set)
    for r in rows:
        if r.status == "confirmed":
            for n in range(r.start_slot, r.end_slot):
                stored[(r.room_id, r.day, n)].add(f"booking {r.id}")
    return sorted(f"{where} room {k[0]} {k[1]} slot {k[2]}: {', '.join(sorted(v))}"
                  for where, owners in (("confirmed", told), ("stored", stored))
                  for k, v in owners.items() if len(v) > 1)


# What a sample says: "0" writable; "1" read-only; "2" read_only off, but every
# write of the application refused by the lease's gate (drill/sampler.py).
WRITABLE = frozenset({"0"})
FLAG_OFF = frozenset({"0", "2"})  # read_only off, whatever the gate says


def _writable_with(samples: dict[str, list[tuple[float, str]]], a: str, b: str,
                   writable: frozenset[str] = WRITABLE) -> list[float]:
    """Times at which node a read writable while b was certainly writable too
    (b's answers just before and just after both said so, and came no more
    than SILENCE_S apart)."""
    times = [t for t, _ in samples[b]]
    found = []
    for t, value in samples[a]:
        if value not in writable:
            continue
        i = bisect.bisect_right(times, t)
        if (0 < i < len(times) and samples[b][i - 1][1] in writable
                and samples[b][i][1] in writable and times[i] - times[i - 1] <= SILENCE_S):
            found.append(t)
    return found


def overlaps(samples: dict[str, list[tuple[float, str]]]) -> list[float]:
    """Times at which two nodes were writable together: every sample of either
    that falls between two of the other's that both said writable."""
    nodes = list(samples)
    return sorted(t for a in nodes for b in nodes if a != b
                  for t in _writable_with(samples, a, b))


def silences(samples: dict[str, list[tuple[float, str]]]) -> list[tuple[str, float, float]]:
    """(node, from, seconds) for each stretch longer than SILENCE_S in which
    a node's sampler answered nothing."""
    out = []
    for node, answers in samples.items():
        for (t0, _), (t1, _) in zip(answers, answers[1:], strict=False):
            if t1 - t0 > SILENCE_S:
                out.append((node, t0, round(t1 - t0, 3)))
    return out


def after_resume(samples: dict[str, list[tuple[float, str]]],
                 writable: frozenset[str] = WRITABLE) -> list[tuple[str, float]]:
    """(node, seconds) for each silence of a node (a paused machine): from
    its first answer again to its first read_only answer after the last time
    it read writable while another node certainly was (an upper bound of the
    time both were writable; 0: never writable together after the resume).
    With FLAG_OFF: how long its read_only flag stayed off, the gate aside."""
    out = []
    for node, start, _ in silences(samples):
        resumed = next(t for t, _ in samples[node] if t > start)  # exact: no rounding
        mine = [t for other in samples if other != node
                for t in _writable_with(samples, node, other, writable)]
        later = [t for t in mine if resumed <= t <= resumed + RESUME_WINDOW_S]
        if not later:
            out.append((node, 0.0))
            continue
        closed = next((t for t, value in samples[node]
                       if t > max(later) and value not in writable), max(later))
        out.append((node, round(closed - resumed, 3)))
    return out


def vip_moves(history: list[dict[str, Any]]) -> int:
    """How often the node that confirmed the bookings changed, in the order
    the confirmations came (each change: the VIP moved)."""
    nodes = [op["node"] for op in sorted(history, key=lambda op: op["ended"])
             if op["outcome"] == "confirmed" and op.get("node")]
    return sum(a != b for a, b in zip(nodes, nodes[1:], strict=False))


def unavailability(history: list[dict[str, Any]], fault_at: float, end: float
                   ) -> tuple[float, float | None]:
    """(the longest time without a confirmation from the last one before the
    fault to the end of the run, time from the fault to the first
    confirmation of an operation sent after it)."""
    times = sorted(op["ended"] for op in history if op["outcome"] == "confirmed")
    before = [t for t in times if t <= fault_at]
    marks = [before[-1] if before else fault_at, *(t for t in times if t > fault_at), end]
    gap = max(b - a for a, b in zip(marks, marks[1:], strict=False))
    firsts = [op["ended"] for op in history
              if op["outcome"] == "confirmed" and op["sent"] >= fault_at]
    first = min(firsts) - fault_at if firsts else None
    return gap, first


def longest_wait(history: list[dict[str, Any]], fault_at: float) -> float:
    waits = [op["ended"] - op["sent"] for op in history if op["ended"] >= fault_at]
    return max(waits, default=0.0)


def check(history: list[dict[str, Any]], finals: dict[str, list[Row]], primary: str,
          samples: dict[str, list[tuple[float, str]]], fault_at: float, end: float) -> Verdict:
    by_key = {node: {r.key: r for r in rows} for node, rows in finals.items()}
    keys = by_key.get(primary, {})
    lost, missing = [], []
    for op in history:
        if op["outcome"] != "confirmed":
            continue
        row = keys.get(op["key"])
        if row is None or row.id != op["booking_id"] or row.status != "confirmed":
            lost.append(op["key"])
        for node, other in by_key.items():
            if node != primary and op["key"] not in other:
                missing.append(f"{node}:{op['key']}")
    unknown = [op for op in history if op["outcome"] == "unknown"]
    found = sum(op["key"] in keys for op in unknown)
    gap, first = unavailability(history, fault_at, end)
    judged = {n: samples.get(n, []) for n in sorted(finals)}  # every node, sampled or not
    outcomes = [op["outcome"] for op in history]
    return Verdict(
        operations=len(history), confirmed=outcomes.count("confirmed"),
        conflicts=outcomes.count("conflict"), errors=outcomes.count("error"),
        unknown=len(unknown), unknown_found=found, lost=tuple(lost),
        replica_missing=tuple(missing),
        double=tuple(double_bookings(history, finals.get(primary, []))),
        two_writable=tuple(overlaps(samples)), unavailable_s=gap,
        first_confirmed_after_fault_s=first, longest_wait_s=longest_wait(history, fault_at),
        samples=tuple((n, sum(v != "down" for _, v in samples.get(n, []))) for n in sorted(finals)),
        silences=tuple(silences(judged)), after_resume=tuple(after_resume(judged)),
        flag_after_resume=tuple(after_resume(judged, FLAG_OFF)),
        moves=vip_moves(history))


def spread(values: list[float]) -> dict[str, float]:
    """median, p95 and max of a list of figures (empty: zeros)."""
    if not values:
        return {"median": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def parse_rows(tsv: str) -> list[Row]:
    """`mariadb -N -B` output of ROWS_SQL."""
    rows = []
    for line in tsv.splitlines():
        parts = line.split("\t")
        if len(parts) != 7:
            continue
        rows.append(Row(int(parts[0]), int(parts[1]), _day(parts[2]), int(parts[3]),
                        int(parts[4]), parts[5], parts[6]))
    return rows


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        return datetime.fromisoformat(text).date().isoformat()


ROWS_SQL = ("SELECT id, room_id, day, start_slot, end_slot, idempotency_key, status "
            "FROM bookings")


def parse_samples(text: str) -> list[tuple[float, str]]:
    out = []
    for line in text.splitlines():
        t, _, value = line.partition(" ")
        try:
            out.append((float(t), value.strip()))
        except ValueError:
            continue
    return out
