"""What the cluster's long-running processes hold, read inside each machine:
memory (PSS, each process's fair share of the pages it maps, and the part of
it that is anonymous: what the program allocated itself) and open file
descriptors, summed per program (gunicorn's and Apache's workers as one).
A soak reads this before the first fault and after every fault; memory or
files that only grow are a leak the minute-long drills never see.

A leak is judged on the anonymous part: the file-backed part (the libraries
and files a program maps) is shared with other programs, and each one's
share of it grows when another that mapped the same pages ends (a soak's
faults end many). In the first hour-long soak, Apache's and gunicorn's PSS
doubled so while nothing leaked.

PROBE runs inside a machine (python3 -c PROBE); `parse` reads what it printed."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

CLOCK_TICKS = 100  # USER_HZ: /proc's times are in these on every Linux architecture we run

# comm (the kernel's name for the process) -> the program, as a report names it
PROGRAMS = {
    "hapair": "agent", "mariadbd": "mariadbd", "gunicorn": "gunicorn", "apache2": "apache2",
    "keepalived": "keepalived", "etcd": "etcd", "glusterd": "glusterd",
    "glusterfsd": "glusterfsd", "glusterfs": "glusterfs",
}

# One line per process: "comm pid pss_kB fds cpu_ticks anon_kB" (user and
# system time, in the kernel's clock ticks; anon: Pss_Anon). A process that
# ends while it is read is left out.
PROBE = f"""
import os
wanted = {sorted(PROGRAMS)!r}
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    try:
        comm = open(f'/proc/{{pid}}/comm').read().strip()
        if comm not in wanted:
            continue
        pss = anon = 0
        for line in open(f'/proc/{{pid}}/smaps_rollup'):
            if line.startswith('Pss:'):
                pss = int(line.split()[1])
            elif line.startswith('Pss_Anon:'):
                anon = int(line.split()[1])
        fds = len(os.listdir(f'/proc/{{pid}}/fd'))
        stat = open(f'/proc/{{pid}}/stat').read().rsplit(')', 1)[1].split()
        ticks = int(stat[11]) + int(stat[12])
    except (OSError, IndexError, ValueError):
        continue
    print(comm, pid, pss, fds, ticks, anon)
"""


@dataclass(frozen=True)
class Usage:
    """One program's processes on one machine, summed."""

    program: str
    processes: int
    pss_kb: int
    fds: int
    pids: frozenset[int]
    cpu_s: float = 0.0  # user and system time of the processes read, since each started
    anon_kb: int = 0  # the anonymous part of pss_kb (0: not read, an older probe)


def parse(text: str) -> dict[str, Usage]:
    """PROBE's output -> program -> its usage (pure; lines it cannot read are
    skipped)."""
    rows: dict[str, list[tuple[int, ...]]] = {}
    for line in text.splitlines():
        parts = line.split()
        if not 4 <= len(parts) <= 6 or parts[0] not in PROGRAMS:
            continue
        try:
            numbers = tuple(int(x) for x in parts[1:]) + (0, 0)
        except ValueError:
            continue
        rows.setdefault(PROGRAMS[parts[0]], []).append(numbers[:5])
    return {name: Usage(name, len(got), sum(r[1] for r in got), sum(r[2] for r in got),
                        frozenset(r[0] for r in got), sum(r[3] for r in got) / CLOCK_TICKS,
                        sum(r[4] for r in got))
            for name, got in sorted(rows.items())}


@dataclass(frozen=True)
class Growth:
    """One program on one machine over the longest stretch of readings in
    which its processes stayed the same (a restart, a reboot or a recycled
    worker starts a new stretch: its memory starts anew). Each end is the
    median of ENDS readings: one reading swings with the load it is taken
    under (a request in flight, a connection's buffers)."""

    node: str
    program: str
    pss_from_kb: int
    pss_to_kb: int
    fds_from: int
    fds_to: int
    readings: int  # readings in the stretch
    seconds: float  # from the first reading judged to the last
    anon_from_kb: int = 0  # the anonymous part (0: not read)
    anon_to_kb: int = 0

    @property
    def judged_kb(self) -> tuple[int, int]:
        """The memory a leak is judged on: the anonymous part where it was read."""
        if self.anon_from_kb:
            return self.anon_from_kb, self.anon_to_kb
        return self.pss_from_kb, self.pss_to_kb

    @property
    def mem_ratio(self) -> float:
        a, b = self.judged_kb
        return b / a if a else 1.0

    @property
    def pss_ratio(self) -> float:
        return self.pss_to_kb / self.pss_from_kb if self.pss_from_kb else 1.0

    @property
    def fds_ratio(self) -> float:
        return self.fds_to / self.fds_from if self.fds_from else 1.0

    def within(self, tolerance: float) -> bool:
        """Memory and open files no more than `tolerance` above the first
        end, or grown by less than the floors (FLOOR_KB, FLOOR_FDS): below
        them a ratio is one reading's noise on a small program."""
        a, b = self.judged_kb
        mem_ok = self.mem_ratio <= 1 + tolerance or b - a < FLOOR_KB
        fds_ok = self.fds_ratio <= 1 + tolerance or self.fds_to - self.fds_from < FLOOR_FDS
        return mem_ok and fds_ok


# A stretch shorter than this many readings is not judged: a program's first
# minutes are its warm-up (gunicorn's workers load code as requests come,
# Apache's children map what they serve), not a leak.
MIN_STRETCH = 6
ENDS = 3  # readings whose median is each end of a stretch
# Growth below these is not judged a leak, whatever its ratio: keepalived's
# 2 MB growing by 300 kB is x1.15 and nothing.
FLOOR_KB = 2048
FLOOR_FDS = 4

Reading = tuple[float, dict[str, dict[str, Usage]]]


def growth(readings: list[Reading], min_stretch: int = MIN_STRETCH) -> list[Growth]:
    """For each (node, program), its longest stretch of consecutive readings
    with the very same processes, judged from the stretch's second reading
    (the first may be taken right after a start) to its last, each end the
    median of ENDS readings; stretches of fewer than min_stretch readings are
    left out (pure)."""
    keys = sorted({(node, program) for _, nodes in readings for node, programs in nodes.items()
                   for program in programs})
    out = []
    for node, program in keys:
        best: list[tuple[float, Usage]] = []
        run: list[tuple[float, Usage]] = []
        for at, nodes in readings:
            u = nodes.get(node, {}).get(program)
            if u is None or (run and u.pids != run[-1][1].pids):
                run = []
            if u is not None:
                run.append((at, u))
            if len(run) > len(best):
                best = list(run)
        if len(best) >= min_stretch:
            judged = [u for _, u in best[1:]]
            first, last = judged[:ENDS], judged[-ENDS:]
            out.append(Growth(node, program, _median(first, "pss_kb"), _median(last, "pss_kb"),
                              _median(first, "fds"), _median(last, "fds"), len(best),
                              round(best[-1][0] - best[1][0], 1),
                              _median(first, "anon_kb"), _median(last, "anon_kb")))
    return out


def _median(usages: list[Usage], what: str) -> int:
    return int(statistics.median(getattr(u, what) for u in usages))
