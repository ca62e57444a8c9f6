"""The guide's cluster as a lab: served through the VIP, replicated, converged."""

from __future__ import annotations

import time
import urllib.request
import uuid

from tests.lab.conftest import Lab

VIP = "10.54.0.100"


def test_vip_answers_from_the_active_node(lab: Lab) -> None:
    body = lab.sh("client", f"curl -sS -m 5 http://{VIP}/")
    assert body.strip() == "roombook on node1"


def test_forwarder_reaches_the_vip_from_the_host(lab: Lab) -> None:
    with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5) as r:
        assert r.read().decode().strip() == "roombook on node1"


def test_a_row_written_on_node1_is_read_on_node2(lab: Lab) -> None:
    token = uuid.uuid4().hex
    lab.sh("node1", "mariadb -e 'CREATE TABLE IF NOT EXISTS roombook.lab_probe "
                    "(token CHAR(32) PRIMARY KEY) ENGINE=InnoDB'")
    lab.sh("node1", f"mariadb -e \"INSERT INTO roombook.lab_probe VALUES ('{token}')\"")
    seen = ""
    for _ in range(50):
        seen = lab.sh("node2", f"mariadb -N -e \"SELECT token FROM roombook.lab_probe "
                               f"WHERE token='{token}'\"")
        if seen.strip():
            break
        time.sleep(0.1)
    assert seen.strip() == token


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
    assert "no changes" in result.stdout.splitlines()[-1]


def test_dry_run_plans_and_changes_nothing(lab: Lab) -> None:
    result = lab.hapair("lab", "apply", str(lab.spec), "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "plan (nothing changed)" in result.stdout
    assert "0 to change" in result.stdout
