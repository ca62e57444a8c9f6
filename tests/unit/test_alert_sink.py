"""The lab's webhook receiver (what it keeps of a POST) and the drill's alert
delay read from what it kept."""

from __future__ import annotations

import json
from pathlib import Path

from hapair.drill.report import alert_cell, summarize
from hapair.drill.runner import first_alert
from hapair.lab.alert_sink import read, record
from hapair.model.webhook import signature

SECRET = "s" * 32


def test_a_signed_alert_is_kept_with_its_arrival() -> None:
    body = json.dumps({"event": "role-change", "node": "node2", "role": "promoting"}).encode()
    kept = record(body, signature(SECRET, body), SECRET, 12.5)
    assert kept == {"received": 12.5, "signed": True, "event": "role-change", "node": "node2",
                    "role": "promoting"}
    assert record(body, signature("x" * 32, body), SECRET, 1.0)["signed"] is False
    assert record(body, "", "", 1.0)["signed"] is False  # no secret: nothing to check against
    assert record(b"\xff[", "", SECRET, 1.0)["unreadable"]


def test_the_file_is_read_line_by_line_skipping_broken_lines(tmp_path: Path) -> None:
    f = tmp_path / "alerts.jsonl"
    assert read(f) == []
    f.write_text('{"received": 1}\nnot json\n[1]\n{"received": 2}\n')
    assert [a["received"] for a in read(f)] == [1, 2]


def test_the_first_alert_after_the_fault_gives_the_delay() -> None:
    alerts = [{"received": 99.0, "event": "resume", "node": "node1", "role": "primary"},
              {"received": 101.4, "event": "fence", "node": "node2", "role": "candidate"},
              {"received": 100.9, "event": "role-change", "node": "node2", "role": "candidate"}]
    assert first_alert(alerts, 100.0) == (0.9, "role-change from node2 (candidate)")
    assert first_alert(alerts, 200.0) == (None, "")


def test_the_summary_gives_the_alert_delay_and_the_runs_that_heard_none() -> None:
    verdict = {"lost": [], "double": [], "two_writable": [], "unknown": 0, "unknown_found": 0,
               "confirmed": 10, "unavailable_s": 1.0, "first_confirmed_after_fault_s": 1.0}
    runs = [{"scenario": "s", "verdict": verdict, "resync_s": 5.0, "safe": True, "alert_s": a}
            for a in (0.4, 0.6, None)]
    (row,) = summarize(runs)
    assert row["alerted"] == 2 and row["alert_s"]["max"] == 0.6
    assert alert_cell(row) == "0.50 / 0.60 (1 run(s) none)"
    (none,) = summarize([{**runs[0], "alert_s": None}])
    assert alert_cell(none) == "none heard"
