"""The capacity benchmark's pure parts: the server's counters, CPU per
1,000 bookings from two readings, and the report's tables and ratios."""

from __future__ import annotations

import sys
from pathlib import Path

from hapair.drill.resources import Usage

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import capacity  # noqa: E402


def test_the_servers_counters_are_read() -> None:
    got = capacity.parse_status("Binlog_commits\t1200\nBinlog_group_commits\t300\nOther\tON\n")
    assert got == {"Binlog_commits": 1200, "Binlog_group_commits": 300}


def usage(cpu: float, *pids: int) -> Usage:
    return Usage("p", len(pids), 1000, 10, frozenset(pids), cpu)


def test_cpu_per_1000_bookings_counts_only_processes_alive_in_both_readings() -> None:
    before = {"node1": {"mariadbd": usage(10.0, 5), "agent": usage(3.0, 7)}}
    after = {"node1": {"mariadbd": usage(12.5, 5), "agent": usage(0.1, 9)},
             "node2": {"mariadbd": usage(1.0, 6)}}
    assert capacity.cpu_per_1000(before, after, 500) == {"node1 mariadbd": 5.0}
    assert capacity.cpu_per_1000(before, after, 0) == {}


def test_the_report_gives_each_target_and_the_ratios() -> None:
    results = [{"target": t, "clients": c, "run": n, "rate": rate, "median_ms": 5.0,
                "p99_ms": 20.0, "errors": 0,
                **({"cpu": {"node1 mariadbd": 2.0}, "bookings_per_group": 1.5} if t != "alone"
                   else {})}
               for n in (1, 2) for c in (1, 32)
               for t, rate in (("alone", 400.0), ("node", 300.0), ("vip", 200.0))]
    text = capacity.report(results, [1, 32])
    assert "| vip | 32 | 200.0 (200.0-200.0) | 5.0 | 20.0 | 0 | 2 |" in text
    assert "| vip / alone | 32 | 0.50 |" in text and "| node / alone | 1 | 0.75 |" in text
    assert "| node1 mariadbd | 2.00 |" in text and "1.50 commits per group" in text


def test_the_asynchronous_spec_is_the_spec_with_one_setting_more() -> None:
    lab = (Path(__file__).resolve().parents[2] / "examples" / "lab.toml").read_text()
    changed = capacity.with_async(lab)
    assert changed.count('durability = "async"') == 1
    assert changed.replace('durability = "async"\n', "", 1) == lab
    assert capacity.with_async('[database]\ndurability = "semi-sync"\n') == (
        '[database]\ndurability = "async"\n')
