"""Point-in-time recovery on the pair lab: a backup, the binary logs archived,
and `hapair restore --at` back to a moment between two bookings."""

from __future__ import annotations

import datetime as dt
import json
import time

from tests.lab.conftest import Lab
from tests.lab.test_cluster import _api, _token, read_on


def _count(lab: Lab, node: str, booking: int) -> str:
    return read_on(lab, node, f"SELECT COUNT(*) FROM roombook.bookings WHERE id={booking}")


def test_a_restore_to_a_moment_keeps_what_came_before_and_the_pair_replicates(lab: Lab
                                                                               ) -> None:
    token = _token(lab)
    taken = set(lab.sh("node1", "mariadb -N -e 'SELECT DISTINCT day FROM roombook.bookings "
                                "WHERE room_id = 4'").split())
    day = next(d for n in range(2, 365)
               if (d := (dt.date.today() + dt.timedelta(days=n)).isoformat()) not in taken)
    r = lab.hapair("backup", str(lab.spec))
    assert r.returncode == 0, r.stdout + r.stderr
    before = _api(lab, token, "POST", "/api/bookings",
                  {"room_id": 4, "date": day, "start": "09:00", "end": "10:00"})
    assert before["status"] == "confirmed", before
    time.sleep(1.5)
    moment = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    time.sleep(1.5)
    after = _api(lab, token, "POST", "/api/bookings",
                 {"room_id": 4, "date": day, "start": "10:00", "end": "11:00"})
    assert after["status"] == "confirmed", after
    r = lab.hapair("backup", str(lab.spec), "--binlogs")
    assert r.returncode == 0 and "binary logs of node1" in r.stdout, r.stdout + r.stderr
    refused = lab.hapair("restore", str(lab.spec), "--at", moment, "--yes")
    assert refused.returncode == 2 and "--force" in refused.stderr, refused.stderr
    r = lab.hapair("restore", str(lab.spec), "--at", moment, "--yes", "--force")
    print(r.stdout[-3000:])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "restored" in r.stdout
    status = {n["node"]: n for n in
              json.loads(lab.hapair("status", str(lab.spec), "--json").stdout)["nodes"]}
    primary = next(n for n, s in status.items() if s["role"] == "primary")
    for node in ("node1", "node2"):
        assert _count(lab, node, before["id"]) == "1", node
        assert _count(lab, node, after["id"]) == "0", node
    again = _api(lab, token, "POST", "/api/bookings",
                 {"room_id": 4, "date": day, "start": "10:00", "end": "11:00"})
    assert again["status"] == "confirmed"
    other = "node1" if primary == "node2" else "node2"
    deadline = time.monotonic() + 10
    while _count(lab, other, again["id"]) != "1" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _count(lab, other, again["id"]) == "1"
