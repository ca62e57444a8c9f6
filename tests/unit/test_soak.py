"""The soak's pure parts: its duration, each round's choice and warm-up, the
resource probe's parser on output captured from a lab machine, and the
verdict over rounds and readings."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from hapair.drill import resources, soak
from hapair.drill.scenarios import SCENARIOS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "resources"


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("2m", 120), ("1h", 3600), ("1h30m", 5400), (" 45m ", 2700), ("1m5s", 65)])
def test_a_duration_is_read(text: str, seconds: float) -> None:
    assert soak.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "1d", "m", "0m", "1h 30m", "-5s"])
def test_a_bad_duration_is_refused_and_named(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        soak.parse_duration(text)


def test_rounds_are_the_same_for_the_same_seed() -> None:
    pool = list(SCENARIOS.values())
    a, b = random.Random(5), random.Random(5)
    first = [(soak.pick(a, pool).name, soak.warmup_for(a, pool[0])) for _ in range(20)]
    again = [(soak.pick(b, pool).name, soak.warmup_for(b, pool[0])) for _ in range(20)]
    assert first == again
    assert len({name for name, _ in first}) > 5  # the whole set, not one scenario


def test_a_round_stays_inside_the_booking_year() -> None:
    rng = random.Random(1)
    for s in SCENARIOS.values():
        load = sum(step.hold_s + step.takes_s + 8.0 for step in s.steps)
        warmup = soak.warmup_for(rng, s)
        assert warmup >= 3.0
        assert warmup + load <= max(soak.ROUND_LIMIT_S, load + 3.0)
        assert warmup <= soak.WARMUP_S[1]


def test_the_probe_output_of_a_lab_node_is_summed_per_program() -> None:
    got = resources.parse((FIXTURES / "pair-node1.txt").read_text())
    assert set(got) >= {"agent", "mariadbd", "gunicorn", "apache2", "keepalived", "glusterd"}
    assert got["apache2"].processes == 17 and got["gunicorn"].processes == 4
    assert got["agent"].processes == 1 and got["agent"].pss_kb > 10_000
    assert got["mariadbd"].fds > 10
    assert got["gunicorn"].pss_kb == sum(
        int(line.split()[2]) for line in (FIXTURES / "pair-node1.txt").read_text().splitlines()
        if line.startswith("gunicorn "))


def test_lines_the_probe_did_not_mean_are_skipped() -> None:
    got = resources.parse("mariadbd 12 100 7\nsshd 3 50 2\nmariadbd x 1 1\n\netcd 9 40\n")
    assert list(got) == ["mariadbd"] and got["mariadbd"].pss_kb == 100


def usage(pss: int, fds: int, *pids: int, anon: int = 0) -> resources.Usage:
    return resources.Usage("p", len(pids), pss, fds, frozenset(pids), anon_kb=anon)


MB = 1024


def test_growth_is_judged_over_each_program_s_longest_unchanged_stretch() -> None:
    """mariadbd restarted at the fourth reading (a new stretch, too short);
    the agent ran through all eight, its memory judged from the second (the
    first may be right after its start), each end the median of three
    readings; gunicorn recycled a worker."""
    readings = [(float(t), {"node1": {
        "mariadbd": usage(100 + 50 * t, 10, 1 if t < 3 else 9),
        "agent": usage([30, 50, 48, 51, 52, 53, 54, 70][t] * MB, 10, 2),
        "gunicorn": usage(100, 10, 3, 4 if t != 4 else 5)}}) for t in range(8)]
    by = {g.program: g for g in resources.growth(readings)}
    assert set(by) == {"agent"}  # mariadbd: 3 and 5 readings; gunicorn: 4 and 3
    agent = by["agent"]
    # The first three judged 50, 48, 51; the last three 53, 54, 70 (one swing).
    assert (agent.pss_from_kb, agent.pss_to_kb, agent.readings) == (50 * MB, 54 * MB, 8)
    assert agent.seconds == 6.0 and agent.within(0.10)  # x1.08: one reading's 70 MB is no leak
    assert not agent.within(0.05)
    assert resources.growth(readings, min_stretch=5)[0].program == "agent"
    assert {g.program for g in resources.growth(readings, min_stretch=3)} == {
        "agent", "mariadbd", "gunicorn"}


def test_a_leak_is_judged_on_anonymous_memory_and_above_the_floors() -> None:
    """PSS that grows because the programs it shares its libraries with
    ended (its share of them grew) is no leak; anonymous memory that grows
    is. A small program's few hundred kB more is under the floor."""
    shares = [(float(t), {"node1": {"apache2": usage((20 + 4 * t) * MB, 50, 5, anon=8 * MB)}})
              for t in range(8)]
    g = resources.growth(shares)[0]
    assert g.pss_ratio > 1.5 and g.mem_ratio == 1.0 and g.within(0.10)
    leaking = [(float(t), {"node1": {"apache2": usage(20 * MB, 50, 5, anon=(8 + t) * MB)}})
               for t in range(8)]
    assert not resources.growth(leaking)[0].within(0.10)
    small = [(float(t), {"node1": {"keepalived": usage(2 * MB + 60 * t, 8 + t // 3, 6)}})
             for t in range(8)]  # x1.17 in memory, 8 -> 10 files: under both floors
    g = resources.growth(small)[0]
    assert g.mem_ratio > 1.10 and g.fds_ratio > 1.10 and g.within(0.10)


def result(n: int, safe: bool = True, unavailable: float = 1.0, alert: float | None = 0.3,
           moves: bool = True, failed: str = "", moved: int = 0) -> dict[str, Any]:
    if failed:
        return {"scenario": "power-cut-primary", "run": n, "failed": failed, "safe": False}
    return {"scenario": "power-cut-primary", "run": n, "safe": safe, "alert_s": alert,
            "faults": [{"moves": moves}],
            "verdict": {"unavailable_s": unavailable, "moves": moved or int(moves)}}


def readings(*agent_pss: int) -> soak.Readings:
    return [(float(t), {"node1": {"agent": usage(pss, 10, 7)}})
            for t, pss in enumerate(agent_pss)]


def test_a_clean_soak_passes() -> None:
    v = soak.judge([result(1), result(2, moves=False, alert=None), result(3)],
                   readings(40, 50, 52, 53, 53, 54, 54))
    assert v.ok and v.rounds == 3 and (v.alerted, v.called) == (2, 2) and v.judged == 1


def test_an_alert_is_owed_only_where_the_vip_moved() -> None:
    """A frozen agent killed by the watchdog and restarted before keepalived
    noticed: its fault may move the VIP, it did not, and no alert is due."""
    restarted = result(2, alert=None)
    restarted["verdict"]["moves"] = 0
    v = soak.judge([result(1), restarted], readings(40, 50, 52, 53, 53, 54, 54))
    assert v.ok and (v.alerted, v.called) == (1, 1) and v.moved == ()


def test_a_short_soak_judges_no_growth_and_says_so() -> None:
    v = soak.judge([result(1), result(2)], readings(40, 50, 80))
    assert v.ok and v.judged == 0 and "growth not judged" in v.notes[0]


def test_a_soak_that_checked_nothing_fails() -> None:
    assert not soak.judge([], readings(40)).ok
    assert not soak.judge([result(1)], readings()).ok


@pytest.mark.parametrize(("rounds", "field"), [
    ([result(1), result(2, failed="the cluster did not settle within 180s")], "failed"),
    ([result(1), result(2, safe=False)], "unsafe"),
    ([result(1), result(2, unavailable=31.0)], "slow"),
    ([result(1), result(2, moves=False, moved=1)], "moved"),
])
def test_each_finding_fails_the_soak(rounds: list[dict[str, Any]], field: str) -> None:
    v = soak.judge(rounds, readings(40, 50, 50))
    assert not v.ok and len(getattr(v, field)) == 1 and "round 2" in getattr(v, field)[0]


def test_memory_that_keeps_growing_fails_the_soak() -> None:
    v = soak.judge([result(1), result(2), result(3)],
                   readings(*(m * MB for m in (40, 50, 51, 53, 54, 56, 58, 60))))
    assert not v.ok and v.leaks == (
        "node1 agent: memory x1.14 (51->58 MiB), open files x1.00 over 6s",)


def test_the_probe_s_cpu_time_is_read_in_seconds_per_program() -> None:
    text = (FIXTURES / "pair-node1-cpu.txt").read_text()
    got = resources.parse(text)
    mariadbd = [line.split() for line in text.splitlines() if line.startswith("mariadbd ")]
    assert got["mariadbd"].cpu_s == sum(int(p[4]) for p in mariadbd) / 100 > 0
    assert resources.parse("etcd 9 40 3 250\n")["etcd"].cpu_s == 2.5
    assert resources.parse("etcd 9 40 3\n")["etcd"].cpu_s == 0.0  # an older probe's line
    assert resources.parse("etcd 9 40 3 250 31\netcd 10 5 1 0 4\n")["etcd"].anon_kb == 35


def test_the_soak_saves_after_every_round_and_stops_at_a_stuck_one() -> None:
    """A round that cannot finish (an apply that never ends, the cluster
    that never settles) ends the soak, and what was read so far is saved."""
    from types import SimpleNamespace

    plan = SimpleNamespace(machines=[])  # no machine to read: readings are empty
    pool = [SCENARIOS["power-cut-primary"]]
    saved: list[int] = []
    outcomes = iter([result(1), result(2, failed="apply timed out"), result(3)])
    rounds, readings = soak.run(plan, pool, 3600, 1, lambda s, n, w: next(outcomes),
                                lambda msg: None, lambda r, x: saved.append(len(r)))
    assert [r["run"] for r in rounds] == [1, 2] and saved == [1, 2] and len(readings) == 3
    assert soak.judge(rounds, readings).failed == ("round 2 power-cut-primary: apply timed out",)
