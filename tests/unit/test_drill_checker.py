"""The drill's checker and report on made-up histories (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hapair.agent.node.observe import has_carrier, parse_addresses
from hapair.drill import checker, report
from hapair.drill.checker import Row
from hapair.drill.scenarios import SCENARIOS, attack_for, random_scenario
from hapair.drill.workload import slot_request
from hapair.xbstream import binlog_gtid


def op(key: str, outcome: str, booking: int | None, start: str = "09:00", end: str = "09:30",
       sent: float = 10.0, ended: float = 10.1, room: int = 1) -> dict[str, object]:
    return {"key": key, "room_id": room, "date": "2026-12-01", "start": start, "end": end,
            "sent": sent, "ended": ended, "outcome": outcome, "booking_id": booking}


def row(i: int, key: str, start: int = 2, end: int = 3, room: int = 1) -> Row:
    return Row(i, room, "2026-12-01", start, end, key)


def test_a_confirmed_booking_missing_from_the_primary_is_lost() -> None:
    history = [op("a", "confirmed", 1), op("b", "confirmed", 2, "10:00", "10:30")]
    finals = {"node1": [row(1, "a")], "node2": [row(1, "a")]}
    v = checker.check(history, finals, "node1", {}, fault_at=10.05, end=20)
    assert v.lost == ("b",) and not v.safe


def test_a_row_with_another_id_is_not_the_confirmed_booking() -> None:
    history = [op("a", "confirmed", 7)]
    v = checker.check(history, {"node1": [row(1, "a")]}, "node1", {}, 10.0, 20)
    assert v.lost == ("a",)


def test_everything_present_is_safe_and_the_replica_is_checked_too() -> None:
    history = [op("a", "confirmed", 1), op("c", "conflict", None), op("u", "unknown", None)]
    finals = {"node1": [row(1, "a"), row(2, "u", 4, 5)], "node2": []}
    v = checker.check(history, finals, "node1", sampled("node1", "node2"), 10.0, 20)
    assert v.safe and v.lost == () and v.replica_missing == ("node2:a",)
    assert (v.confirmed, v.conflicts, v.unknown, v.unknown_found) == (1, 1, 1, 1)


def sampled(*nodes: str, n: int = checker.MIN_SAMPLES) -> dict[str, list[tuple[float, str]]]:
    """n read_only answers from each node, the first one writable."""
    return {node: [(1.0 + i / 40, "1" if i or k else "0") for i in range(n)]
            for k, node in enumerate(nodes)}


def test_a_node_sampled_too_little_leaves_the_run_unjudged() -> None:
    """A sampler that printed nothing (its client's output buffered) once
    passed for "never two writable": a run is safe only when every node's
    read_only was sampled enough; a witness's samples do not count."""
    history = [op("a", "confirmed", 1)]
    finals = {"node1": [row(1, "a")], "node2": [row(1, "a")]}
    few = sampled("node1") | sampled("node2", n=checker.MIN_SAMPLES - 1)
    few["node2"] += [(3.0, "down")] * 200  # its server down: no answer
    v = checker.check(history, finals, "node1", few, 10.0, 20)
    assert v.unsampled == ("node2",) and not v.safe and not v.two_writable
    assert v.samples == (("node1", checker.MIN_SAMPLES), ("node2", checker.MIN_SAMPLES - 1))
    enough = sampled("node1", "node2") | {"witness": [(1.0, "down")]}
    assert checker.check(history, finals, "node1", enough, 10.0, 20).safe
    assert not checker.check(history, finals, "node1", {}, 10.0, 20).safe


def test_two_bookings_confirmed_for_one_slot_are_a_double_booking() -> None:
    history = [op("a", "confirmed", 1, "09:00", "10:00"), op("b", "confirmed", 2, "09:30", "10:30")]
    doubles = checker.double_bookings(history, [])
    assert doubles == ["confirmed room 1 2026-12-01 slot 19: booking 1, booking 2"]
    replay = [op("a", "confirmed", 1), op("a2", "confirmed", 1)]  # one booking, replayed
    assert checker.double_bookings(replay, []) == []
    stored = checker.double_bookings([], [row(1, "a", 2, 4), row(2, "b", 3, 5)])
    assert stored == ["stored room 1 2026-12-01 slot 3: booking 1, booking 2"]


def test_two_writable_nodes_only_when_both_are_certain() -> None:
    samples = {"node1": [(1.0, "0"), (1.1, "0"), (1.2, "1")],
               "node2": [(1.05, "1"), (1.15, "0"), (1.25, "0")]}
    assert checker.overlaps(samples) == []  # node1 went read-only between node2's samples
    samples["node1"].append((1.22, "0"))
    assert checker.overlaps(samples) == [1.22]


def test_a_silent_node_is_not_judged_while_silent_but_is_after_and_said_so() -> None:
    """A machine paused whole (node2 here) answers nothing while paused: the
    other's writable samples then are not taken for two writable (what
    node2 would have said is unknown), but those after node2 answers again
    are, whichever of the two is listed first; the silence is reported."""
    node1 = [(1.0 + i * 0.02, "1") for i in range(50)] + [(2.0 + i * 0.02, "0") for i in range(350)]
    node2 = [(1.0 + i * 0.02, "0") for i in range(25)] + [(8.01, "0"), (8.03, "0"), (8.05, "1")]
    for samples in ({"node1": node1, "node2": node2}, {"a": node2, "b": node1}):
        found = checker.overlaps(samples)
        assert found and all(8.01 <= t < 8.05 for t in found), found
    assert checker.silences({"node1": node1, "node2": node2}) == [
        ("node2", pytest.approx(1.48), pytest.approx(6.53))]


def test_an_overlap_is_seen_from_either_node_s_samples() -> None:
    """node2's one writable sample falls between two of node1's that said
    writable: two writable, though no node1 sample falls inside node2's."""
    samples = {"node1": [(1.0, "0"), (1.1, "0")], "node2": [(1.05, "0"), (1.5, "1")]}
    assert checker.overlaps(samples) == [1.05]
    assert checker.overlaps({"b": samples["node1"], "a": samples["node2"]}) == [1.05]


def test_writable_after_a_resume_runs_to_the_first_read_only_answer() -> None:
    """node2 paused from 1.48 to 8.01, then writable beside node1 for two
    samples: from its first answer to its first read_only one, 0.04 s; a
    node that resumes read-only counts 0."""
    node1 = [(1.0 + i * 0.02, "1") for i in range(50)] + [(2.0 + i * 0.02, "0") for i in range(350)]
    node2 = [(1.0 + i * 0.02, "0") for i in range(25)] + [(8.01, "0"), (8.03, "0"), (8.05, "1")]
    assert checker.after_resume({"node1": node1, "node2": node2}) == [
        ("node2", pytest.approx(0.04))]
    closed = node2[:25] + [(8.01, "1"), (8.03, "1")]
    assert checker.after_resume({"node1": node1, "node2": closed}) == [("node2", 0.0)]


def test_a_node_whose_writes_the_lease_refuses_is_not_writable_but_its_flag_is_told() -> None:
    """node2 resumes with read_only off for three samples, every write refused
    by the lease's gate ("2"): never two writable; the flag's own time is
    reported beside it."""
    node1 = [(1.0 + i * 0.02, "1") for i in range(50)] + [(2.0 + i * 0.02, "0") for i in range(350)]
    node2 = [(1.0 + i * 0.02, "0") for i in range(25)] + [(8.01, "2"), (8.03, "2"), (8.05, "2"),
                                                          (8.07, "1")]
    samples = {"node1": node1, "node2": node2}
    assert checker.overlaps(samples) == []
    assert checker.after_resume(samples) == [("node2", 0.0)]
    assert checker.after_resume(samples, checker.FLAG_OFF) == [("node2", pytest.approx(0.06))]


def test_unavailability_is_the_longest_gap_from_the_fault_on() -> None:
    history = [op("a", "confirmed", 1, sent=8.9, ended=9.0),
               op("b", "confirmed", 2, sent=9.8, ended=9.9),
               op("c", "confirmed", 3, sent=10.2, ended=11.4),
               op("d", "confirmed", 4, sent=11.45, ended=11.5)]
    gap, first = checker.unavailability(history, fault_at=10.0, end=11.6)
    assert round(gap, 2) == 1.5 and first is not None and round(first, 2) == 1.4


def test_rows_and_samples_parse() -> None:
    rows = checker.parse_rows("5\t2\t2026-12-01\t2\t3\tabc\tconfirmed\nnoise\n")
    assert rows == [Row(5, 2, "2026-12-01", 2, 3, "abc", "confirmed")]
    assert checker.parse_samples("1.5 0\n1.6 down\nbad\n") == [(1.5, "0"), (1.6, "down")]
    assert checker.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "p95": 3.0, "max": 3.0}


def test_the_workload_walks_rooms_then_slots_then_days() -> None:
    first = slot_request(0, first_day=3)
    assert first["room_id"] == 1 and first["start"] == "08:00" and first["end"] == "08:30"
    assert slot_request(4)["start"] == "08:30"
    assert slot_request(4 * 24)["date"] > slot_request(0)["date"]


def test_scenarios_cover_the_controller_issue_and_random_is_reproducible() -> None:
    assert {"power-cut-primary", "kill-mariadb-primary", "kill-keepalived-primary",
            "kill-app-primary", "kill-apache-primary", "public-link-primary", "interconnect-cut",
            "partition", "power-cut-standby", "switchover"} <= set(SCENARIOS)
    assert random_scenario(7) == random_scenario(7)
    assert random_scenario(7).description != random_scenario(8).description


def test_an_attack_can_be_shortened_and_nothing_else_changes() -> None:
    short = attack_for(SCENARIOS["login-flood"], 30)
    (step,) = short.steps
    assert step.hold_s == 30 and "for 30 s" in short.description
    assert step.fault.__self__.seconds == 30  # type: ignore[attr-defined]
    # The table's own attack is untouched, and a fault that is no attack too.
    assert SCENARIOS["login-flood"].steps[0].hold_s == 60
    assert SCENARIOS["login-flood"].steps[0].fault.__self__.seconds == 60  # type: ignore[attr-defined]
    assert attack_for(SCENARIOS["partition"], 30) is SCENARIOS["partition"]


def test_report_summary_and_markdown() -> None:
    verdict = {"lost": [], "double": [], "two_writable": [], "unknown": 1, "unknown_found": 0,
               "confirmed": 10, "unavailable_s": 1.2, "first_confirmed_after_fault_s": 1.3}
    rows = report.summarize([{"scenario": "x", "verdict": verdict, "resync_s": 8.0,
                              "safe": True}] * 2)
    assert rows[0]["runs"] == 2 and rows[0]["unavailable_s"]["median"] == 1.2 and rows[0]["safe"]
    md = report.markdown(rows, {"x": "x.png"})
    assert "| x | 2 | 0 | 0 | 0 | 0 | 2 (0) | 1.20 / 1.20 / 1.20 | 0.00 / 0.00 |" in md
    assert "![x](x.png)" in md


def test_a_run_that_could_not_finish_is_in_the_summary_as_failed() -> None:
    """The cluster did not settle: the run has no verdict, only why and what
    each agent last decided; the scenario is not safe, and the runs that
    finished are still summarized."""
    verdict = {"lost": [], "double": [], "two_writable": [], "unknown": 0, "unknown_found": 0,
               "confirmed": 10, "unavailable_s": 1.0, "first_confirmed_after_fault_s": 1.0,
               "samples": [["node1", 700], ["node2", 650]]}
    done = {"scenario": "x", "verdict": verdict, "resync_s": 8.0, "safe": True,
            "stress": True}
    failed = {"scenario": "x", "run": 2, "failed": "the cluster did not settle within 240s",
              "agents": {"node1": {"role": "primary", "reason": "...", "history": []}},
              "safe": False}
    (row,) = report.summarize([done, failed])
    assert (row["runs"], row["failed"], row["judged"], row["safe"]) == (2, 1, 1, False)
    assert row["fewest_samples"] == 650 and row["stress"]
    md = report.markdown([row], {})
    assert "| x (starved host) | 2 (1 failed) | 0 | 0 | 0 | 650 |" in md


def test_the_longest_wait_is_one_clients_from_sending_to_its_end() -> None:
    from hapair.drill.checker import longest_wait

    history = [{"outcome": "confirmed", "sent": 0.0, "ended": 9.1},   # ended before the fault
               {"outcome": "confirmed", "sent": 10.1, "ended": 11.4},  # waited out a timeout
               {"outcome": "conflict", "sent": 10.2, "ended": 10.5}]
    assert abs(longest_wait(history, 10.0) - 1.3) < 1e-9
    gave_up = {"outcome": "unknown", "sent": 10.0, "ended": 30.0}  # no answer for 20 s
    assert longest_wait([*history, gave_up], 10.0) == 20.0
    assert longest_wait([], 10.0) == 0.0


def test_node_probes(tmp_path: Path) -> None:
    out = ("2: pub0    inet 10.54.0.10/24 brd 10.54.0.255 scope global pub0\\       valid_lft\n"
           "2: pub0    inet 10.54.0.100/24 scope global secondary pub0\\       valid_lft\n")
    assert parse_addresses(out) == {"10.54.0.10", "10.54.0.100"}
    (tmp_path / "pub0").mkdir()
    (tmp_path / "pub0" / "carrier").write_text("0\n")
    assert not has_carrier("pub0", str(tmp_path))
    (tmp_path / "pub0" / "carrier").write_text("1\n")
    assert has_carrier("pub0", str(tmp_path)) and not has_carrier("nope", str(tmp_path))
    assert binlog_gtid("mariadb-bin.000003\t1234\t0-1-55\n") == "0-1-55"


def test_a_backups_position_is_read_under_either_name(tmp_path: Path) -> None:
    """MariaDB 10.11 (Debian 12) writes xtrabackup_binlog_info, 11.8 (Debian
    13) mariadb_backup_binlog_info (seen: every rebuild failed on Debian 13)."""
    from hapair.xbstream import backup_gtid

    with pytest.raises(RuntimeError, match="incomplete"):
        backup_gtid(tmp_path)
    (tmp_path / "mariadb_backup_binlog_info").write_text("mariadb-bin.4\t29490047\t0-2-31780\n")
    assert backup_gtid(tmp_path) == "0-2-31780"
    (tmp_path / "xtrabackup_binlog_info").write_text("mariadb-bin.000003\t1234\t0-1-55\n")
    assert backup_gtid(tmp_path) == "0-1-55"


def test_a_run_that_would_book_past_the_horizon_clears_the_drills_bookings_first() -> None:
    """A 60 s outage run started 280 days ahead once booked past roombook's
    one-year horizon: its last 23 s were refusals, read as a pause."""
    from hapair.drill.space import fits

    assert fits(10, 25) and fits(200, 25)
    assert not fits(280, 90)  # standby-out-60s: about 90 s of booking
    assert not fits(364, 1)
    assert not fits(220, 41)  # freeze-agent-primary-30s at 350 operations a second


def test_a_long_run_books_enough_rooms_of_its_own_to_stay_inside_the_horizon() -> None:
    """An apply drill books for 121 s: over the four sample rooms it passed
    the horizon even from tomorrow (945 refusals read as a 1.9 s pause)."""
    from hapair.drill.space import fits, rooms_needed, rooms_sql

    assert rooms_needed(25) == 4
    assert not fits(0, 121, 4)
    count = rooms_needed(121)
    assert count > 4 and fits(0, 121, count) and not fits(0, 121, count - 1)
    sql = rooms_sql(2)
    assert "'Drill 01'" in sql and "'Drill 02'" in sql and "'Drill 03'" not in sql
    assert sql.rstrip().endswith("ORDER BY name")


def test_vip_moves_count_changes_of_the_confirming_node_in_time_order() -> None:
    history = [{**op("a", "confirmed", 1, sent=1.0, ended=1.1), "node": "node1"},
               {**op("b", "confirmed", 2, sent=2.0, ended=3.1), "node": "node2"},
               {**op("c", "confirmed", 3, sent=2.0, ended=2.1), "node": "node1"},
               {**op("d", "error", 4, sent=2.0, ended=2.5), "node": "node2"}]
    assert checker.vip_moves(history) == 1  # node1, node1, node2: refusals do not count
    history.append({**op("e", "confirmed", 5, sent=3.0, ended=3.2), "node": "node1"})
    assert checker.vip_moves(history) == 2


def test_a_move_no_fault_called_for_fails_the_report() -> None:
    verdict = {"lost": [], "double": [], "two_writable": [], "unknown": 0, "unknown_found": 0,
               "confirmed": 10, "unavailable_s": 0.2, "first_confirmed_after_fault_s": 0.1,
               "moves": 1}
    run = {"scenario": "slow-clients", "verdict": verdict, "resync_s": 1.0, "safe": True,
           "faults": [{"what": "slow", "moves": False}]}
    rows = report.summarize([run, {**run, "verdict": {**verdict, "moves": 0}}])
    assert rows[0]["vip_moves"] == 1 and rows[0]["unwanted_moves"] == 1
    assert "| 1 (1 run(s) uncalled for) |" in report.markdown(rows, {})
    called = report.summarize([{**run, "faults": [{"what": "power cut", "moves": True}]}])
    assert called[0]["unwanted_moves"] == 0


def test_the_attack_summary_names_the_real_user_s_sign_ins() -> None:
    from hapair.drill.abuse import summarize_attack

    line = summarize_attack({"seen": {"10.54.0.10 body: not connected (TimeoutError)": 12},
                             "signins": [[0.2, 200], [0.4, 200], [5.0, "TimeoutError"]]})
    assert line.startswith("real user: 2/3 sign-ins ok, slowest 5.00s; attacker: ")
    assert "10.54.0.10 body: not connected (TimeoutError) x12" in line
