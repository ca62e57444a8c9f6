"""What the cluster's long-running processes hold, read inside each machine:
memory (PSS, each process's fair share of the pages it maps) and open file
descriptors, summed per program (gunicorn's and Apache's workers as one).
A soak reads this before the first fault and after every fault; memory or
files that only grow are a leak the minute-long drills never see.

PROBE runs inside a machine (python3 -c PROBE); `parse` reads what it printed."""

from __future__ import annotations

from dataclasses import dataclass

CLOCK_TICKS = 100  # USER_HZ: /proc's times are in these on every Linux architecture we run

# comm (the kernel's name for the process) -> the program, as a report names it
PROGRAMS = {
    "hapair": "agent", "mariadbd": "mariadbd", "gunicorn": "gunicorn", "apache2": "apache2",
    "keepalived": "keepalived", "etcd": "etcd", "glusterd": "glusterd",
    "glusterfsd": "glusterfsd", "glusterfs": "glusterfs",
}

# One line per process: "comm pid pss_kB fds cpu_ticks" (user and system
# time, in the kernel's clock ticks). A process that ends while it is read is
# left out.
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
        pss = 0
        for line in open(f'/proc/{{pid}}/smaps_rollup'):
            if line.startswith('Pss:'):
                pss = int(line.split()[1])
        fds = len(os.listdir(f'/proc/{{pid}}/fd'))
        stat = open(f'/proc/{{pid}}/stat').read().rsplit(')', 1)[1].split()
        ticks = int(stat[11]) + int(stat[12])
    except (OSError, IndexError, ValueError):
        continue
    print(comm, pid, pss, fds, ticks)
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


def parse(text: str) -> dict[str, Usage]:
    """PROBE's output -> program -> its usage (pure; lines it cannot read are
    skipped)."""
    rows: dict[str, list[tuple[int, int, int, int]]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) not in (4, 5) or parts[0] not in PROGRAMS:
            continue
        try:
            pid, pss, fds = int(parts[1]), int(parts[2]), int(parts[3])
            ticks = int(parts[4]) if len(parts) == 5 else 0
        except ValueError:
            continue
        rows.setdefault(PROGRAMS[parts[0]], []).append((pid, pss, fds, ticks))
    return {name: Usage(name, len(got), sum(r[1] for r in got), sum(r[2] for r in got),
                        frozenset(r[0] for r in got), sum(r[3] for r in got) / CLOCK_TICKS)
            for name, got in sorted(rows.items())}


@dataclass(frozen=True)
class Growth:
    node: str
    program: str
    pss_from_kb: int
    pss_to_kb: int
    fds_from: int
    fds_to: int
    restarted: bool  # none of the first processes is still there: not a leak measure

    @property
    def pss_ratio(self) -> float:
        return self.pss_to_kb / self.pss_from_kb if self.pss_from_kb else 1.0

    @property
    def fds_ratio(self) -> float:
        return self.fds_to / self.fds_from if self.fds_from else 1.0

    def within(self, tolerance: float) -> bool:
        """Memory and open files no more than `tolerance` above the first
        reading (a restarted program is judged from its new start elsewhere)."""
        return self.restarted or (self.pss_ratio <= 1 + tolerance
                                  and self.fds_ratio <= 1 + tolerance)


def growth(first: dict[str, dict[str, Usage]], last: dict[str, dict[str, Usage]]
           ) -> list[Growth]:
    """Each (node, program) read both times: from the first reading to the
    last (pure). A program whose processes all changed restarted (a power
    cut, a kill, an apply) between them."""
    out = []
    for node in sorted(set(first) & set(last)):
        for program in sorted(set(first[node]) & set(last[node])):
            a, b = first[node][program], last[node][program]
            out.append(Growth(node, program, a.pss_kb, b.pss_kb, a.fds, b.fds,
                              restarted=not (a.pids & b.pids)))
    return out
