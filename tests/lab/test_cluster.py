"""The guide's cluster as a lab: served through the VIP, replicated, converged."""

from __future__ import annotations

import json
import time
import tomllib
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

from tests.lab.conftest import Lab

VIP = "10.54.0.100"


def read_on(lab: Lab, node: str, query: str, seconds: float = 5) -> str:
    """A query's answer on a node, waiting for replication to apply (semi-sync
    acknowledges receipt; applying follows a moment later)."""
    deadline = time.monotonic() + seconds
    while True:
        seen = lab.sh(node, f'mariadb -N -e "{query}"').strip()
        if seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def test_vip_answers_from_the_active_node(lab: Lab) -> None:
    answer = lab.sh("client", f"curl -sS -m 5 -D - http://{VIP}/healthz")
    assert "X-Served-By: node1" in answer
    assert answer.rstrip().endswith("ok")


def test_forwarder_reaches_the_vip_from_the_host(lab: Lab) -> None:
    with urllib.request.urlopen("http://127.0.0.1:8080/login", timeout=5) as r:
        assert r.headers["X-Served-By"] == "node1"
        assert "Sign in" in r.read().decode()


def test_a_booking_through_the_vip_is_on_both_nodes(lab: Lab) -> None:
    secrets = tomllib.loads(Path("/var/lib/hapair/lab/lab/secrets.toml").read_text())
    password = secrets["app"]["ROOMBOOK_DEMO_PASSWORD"]
    login = json.dumps({"email": "demo@roombook.test", "password": password})
    token = json.loads(lab.sh("client", f"curl -sS -m 5 -H 'Content-Type: application/json' "
                                        f"-d '{login}' http://{VIP}/api/login"))["token"]
    day = (date.today() + timedelta(days=30)).isoformat()
    request = json.dumps({"room_id": 1, "date": day, "start": "10:00", "end": "11:00"})
    key = uuid.uuid4().hex
    made = json.loads(lab.sh("client", f"curl -sS -m 5 -H 'Authorization: Bearer {token}' "
                                       f"-H 'Content-Type: application/json' "
                                       f"-H 'Idempotency-Key: {key}' -d '{request}' "
                                       f"http://{VIP}/api/bookings"))
    assert made["status"] == "confirmed" and made["replayed"] is False
    assert read_on(lab, "node2", "SELECT idempotency_key FROM roombook.bookings "
                                 f"WHERE id={made['id']}") == key


def test_a_row_written_on_node1_is_read_on_node2(lab: Lab) -> None:
    token = uuid.uuid4().hex
    lab.sh("node1", "mariadb -e 'CREATE TABLE IF NOT EXISTS roombook.lab_probe "
                    "(token CHAR(32) PRIMARY KEY) ENGINE=InnoDB'")
    lab.sh("node1", f"mariadb -e \"INSERT INTO roombook.lab_probe VALUES ('{token}')\"")
    assert read_on(lab, "node2", f"SELECT token FROM roombook.lab_probe "
                                 f"WHERE token='{token}'") == token


def test_only_node1_accepts_writes(lab: Lab) -> None:
    assert lab.sh("node1", "mariadb -N -e 'SELECT @@read_only'").strip() == "0"
    assert lab.sh("node2", "mariadb -N -e 'SELECT @@read_only'").strip() == "1"
    app_write = lab.exec("node2", "sh", "-c", ". /etc/hapair/app-secrets.env; "
                         "mariadb -h 127.0.0.1 -u roombook -p\"$(echo $ROOMBOOK_DATABASE_URL"
                         " | sed 's|.*://[^:]*:\\([^@]*\\)@.*|\\1|')\" -e "
                         "\"INSERT INTO roombook.lab_probe VALUES ('x')\"")
    assert app_write.returncode != 0 and "read-only" in app_write.stderr


def test_a_file_in_node1s_volume_is_read_on_node2(lab: Lab) -> None:
    token = uuid.uuid4().hex
    lab.sh("node1", f"echo {token} > /srv/static/{token}.txt")
    assert lab.sh("node2", f"cat /srv/static/{token}.txt").strip() == token


def test_secrets_are_root_only_on_the_nodes(lab: Lab) -> None:
    modes = lab.sh("node1", "stat -c '%a %U' /etc/hapair/app-secrets.env "
                            "/etc/hapair/agent-secrets.env")
    assert modes.split() == ["600", "root", "600", "root"]


def test_a_second_apply_changes_nothing(lab: Lab) -> None:
    result = lab.hapair("lab", "apply", str(lab.spec))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "no changes" in result.stdout.splitlines()[-1], result.stdout[-3000:]


def test_dry_run_plans_and_changes_nothing(lab: Lab) -> None:
    result = lab.hapair("lab", "apply", str(lab.spec), "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "plan (nothing changed)" in result.stdout
    assert "0 to change" in result.stdout
