"""The guide's cluster as a lab: served through the VIP, replicated, converged."""

from __future__ import annotations

import json
import shlex
import tarfile
import time
import tomllib
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hapair import pki
from hapair.lab.plan import STATE_ROOT
from hapair.secrets import load_secrets
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


def ca(lab: Lab) -> str:
    """The lab's CA file: curl in the client checks the VIP's certificate with it."""
    return f"{STATE_ROOT}/{lab.name}/ca.crt"


def curl(lab: Lab) -> str:
    return f"curl -sS --cacert {ca(lab)}"


def test_vip_answers_from_the_active_node(lab: Lab) -> None:
    answer = lab.sh("client", f"{curl(lab)} -m 5 -D - https://{VIP}/healthz")
    assert "X-Served-By: node1" in answer and "Strict-Transport-Security" in answer
    assert answer.rstrip().endswith("ok")


def test_plain_http_is_sent_to_https_but_health_checks(lab: Lab) -> None:
    moved = lab.sh("client", f"curl -sS -m 5 -o /dev/null -w '%{{http_code}} %{{redirect_url}}' "
                             f"http://{VIP}/login")
    assert moved == f"301 https://{VIP}/login"
    assert lab.sh("client", f"curl -sS -m 5 http://{VIP}/healthz").strip() == "ok"


def test_forwarder_reaches_the_vip_from_the_host(lab: Lab) -> None:
    import ssl

    from hapair.lab.control import forwarded
    from hapair.spec import load_spec

    port, _ = forwarded(load_spec(lab.spec).spec)
    assert port == 18443  # the test suite's own: a demo's 8443 is left alone
    context = ssl.create_default_context(cafile=ca(lab))
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/login", timeout=5,
                                context=context) as r:
        assert r.headers["X-Served-By"] == "node1"
        assert "Sign in" in r.read().decode()


def _token(lab: Lab) -> str:
    """The demo account's API token, signed in through the VIP."""
    secrets = tomllib.loads((Path(STATE_ROOT) / lab.name / "secrets.toml").read_text())
    password = secrets["app"]["ROOMBOOK_DEMO_PASSWORD"]
    login = json.dumps({"email": "demo@roombook.test", "password": password})
    return str(json.loads(lab.sh("client", f"{curl(lab)} -m 5 "
                                           "-H 'Content-Type: application/json' "
                                           f"-d '{login}' https://{VIP}/api/login"))["token"])


def _api(lab: Lab, token: str, method: str, path: str, body: object = None) -> Any:
    data = f"-d '{json.dumps(body)}' " if body is not None else ""
    return json.loads(lab.sh("client", f"{curl(lab)} -m 10 -X {method} "
                                       f"-H 'Authorization: Bearer {token}' "
                                       f"-H 'Content-Type: application/json' "
                                       f"-H 'Idempotency-Key: {uuid.uuid4().hex}' {data}"
                                       f"https://{VIP}{path}"))


def test_a_booking_through_the_vip_is_on_both_nodes(lab: Lab) -> None:
    token = _token(lab)
    day = (date.today() + timedelta(days=30)).isoformat()
    request = json.dumps({"room_id": 1, "date": day, "start": "10:00", "end": "11:00"})
    key = uuid.uuid4().hex
    made = json.loads(lab.sh("client", f"{curl(lab)} -m 5 -H 'Authorization: Bearer {token}' "
                                       f"-H 'Content-Type: application/json' "
                                       f"-H 'Idempotency-Key: {key}' -d '{request}' "
                                       f"https://{VIP}/api/bookings"))
    assert made["status"] == "confirmed" and made["replayed"] is False
    assert read_on(lab, "node2", "SELECT idempotency_key FROM roombook.bookings "
                                 f"WHERE id={made['id']}") == key


def test_roombook_s_series_edits_and_feeds_through_the_vip(lab: Lab) -> None:
    """The application's newer features, deployed: migrations on MariaDB, the
    wheel with its dependencies, and their data on the standby too."""
    from icalendar import Calendar

    token = _token(lab)
    first = date.today() + timedelta(days=40)
    made = _api(lab, token, "POST", "/api/series", {
        "room_id": 2, "date": first.isoformat(), "start": "08:00", "end": "09:00",
        "repeat": "weekly", "until": (first + timedelta(weeks=2)).isoformat()})
    assert len(made["booked"]) == 3, made
    mine = [b for b in _api(lab, token, "GET", "/api/bookings")
            if b["room_id"] == 2 and b["start"] == "08:00"]
    moved = _api(lab, token, "PATCH", f"/api/bookings/{mine[0]['id']}",
                 {"room_id": 3, "title": "Moved"})
    assert (moved["room_id"], moved["title"]) == (3, "Moved")
    assert read_on(lab, "node2", "SELECT COUNT(*) FROM roombook.bookings "
                                 f"WHERE series_id={made['id']}") == "3"
    # A room's calendar address, made through the pages, read as a calendar client would.
    cal = Calendar.from_ical(_feed_of_room(lab, 3))
    assert any(str(e["summary"]) == "Moved (Curie)" for e in cal.walk("VEVENT"))


FEED_SCRIPT = r"""set -e
jar=$(mktemp); base=https://VIP
# Over HTTPS the forms' CSRF check wants a Referer of the same site, as a browser sends.
curl() { command curl --cacert CA -e "$base/" "$@"; }
token() { sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1; }
t=$(curl -sS -m 5 -c $jar -b $jar $base/login | token)
curl -sS -m 5 -c $jar -b $jar -o /dev/null --data-urlencode "csrf_token=$t" \
  --data-urlencode email=demo@roombook.test --data-urlencode "password=$PASSWORD" $base/login
t=$(curl -sS -m 5 -c $jar -b $jar "$base/rooms/ROOM" | token)
url=$(curl -sS -m 5 -c $jar -b $jar -L --data-urlencode "csrf_token=$t" -d room_id=ROOM \
  $base/feeds | grep -o 'https://[^ <]*/feeds/[A-Za-z0-9_-]*[.]ics' | head -1)
curl -sS -m 5 "$url"
"""


def _feed_of_room(lab: Lab, room: int) -> bytes:
    """Sign in with the page's form (CSRF token and all), ask for a room's
    calendar address, and fetch it."""
    secrets = tomllib.loads((Path(STATE_ROOT) / lab.name / "secrets.toml").read_text())
    password = secrets["app"]["ROOMBOOK_DEMO_PASSWORD"]
    script = FEED_SCRIPT.replace("VIP", VIP).replace("ROOM", str(room)).replace("CA", ca(lab))
    return lab.sh("client", f"PASSWORD={shlex.quote(password)}\n{script}").encode()


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


def test_the_volume_lets_in_the_pools_own_certificates_only(lab: Lab) -> None:
    """Gluster speaks TLS on glusterd's port and the bricks', with
    certificates from the cluster CA: a mount made on a node with a
    certificate of another CA, or of the cluster's CA under a name outside
    the pool, is refused; one named after a host of the pool is let in."""
    info = lab.sh("node1", "gluster volume info static")
    for line in ("client.ssl: on", "server.ssl: on", "auth.ssl-allow: node1,node2"):
        assert line in info, info
    assert "ssl-cert-depth" in lab.sh("node1", "cat /var/lib/glusterd/secure-access")
    secrets = load_secrets(Path(STATE_ROOT) / lab.name / "secrets.toml")
    assert secrets.pki is not None
    ca = pki.Pair(secrets.pki.ca_cert, secrets.pki.ca_key.get_secret_value())
    now = datetime.now(UTC)

    def mounts(pair: pki.Pair) -> bool:
        """A mount of the volume in a mount namespace of its own on node1,
        with this certificate in place of the node's."""
        script = (f"mkdir -p /root/gt /mnt/gt && printf %s {shlex.quote(pair.cert)} "
                  f"> /root/gt/c.pem && printf %s {shlex.quote(pair.key)} > /root/gt/c.key && "
                  "unshare -m --propagation private sh -c 'mount --bind /root/gt/c.pem "
                  "/etc/ssl/glusterfs.pem && mount --bind /root/gt/c.key /etc/ssl/glusterfs.key "
                  "&& timeout 30 mount -t glusterfs node1:/static /mnt/gt && ls /mnt/gt "
                  ">/dev/null && umount /mnt/gt'")
        return lab.exec("node1", "sh", "-c", script).returncode == 0

    assert mounts(pki.issue(ca, "node2", (), now))  # the way itself works
    assert not mounts(pki.issue(ca, "intruder", (), now))
    assert not mounts(pki.issue(pki.new_ca("other", now), "node1", (), now))
    lab.sh("node1", "rm -rf /root/gt")


def test_apply_turns_tls_on_for_a_volume_without_it(lab: Lab) -> None:
    """A pair deployed before Gluster's TLS: apply turns it on (glusterd
    restarted, the volume restarted once, each node's mount made again) and
    what was written before is read on both nodes after."""
    token = uuid.uuid4().hex
    lab.sh("node1", f"echo {token} > /srv/static/tls-{token}.txt")
    peers = "for i in $(seq 60); do gluster pool list | grep -c Connected | grep -q 2 && break; " \
            "sleep 0.5; done"
    # As an earlier hapair left it: no TLS anywhere.
    lab.sh("node1", "gluster volume set static client.ssl off server.ssl off")
    for n in ("node1", "node2"):
        lab.sh(n, "rm -f /var/lib/glusterd/secure-access && systemctl restart glusterd")
    lab.sh("node1", f"{peers}; gluster --mode=script volume stop static && "
                    "gluster volume start static")
    for n in ("node1", "node2"):
        lab.sh(n, "systemctl restart srv-static.mount")
    assert lab.sh("node2", f"cat /srv/static/tls-{token}.txt").strip() == token
    r = lab.hapair("lab", "apply", str(lab.spec))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "server.ssl: on" in lab.sh("node1", "gluster volume info static")
    for n in ("node1", "node2"):
        assert lab.sh(n, f"cat /srv/static/tls-{token}.txt").strip() == token, n
        assert "IO path is ENABLED" in lab.sh(
            n, "grep -h 'SSL support' /var/log/glusterfs/srv-static.log | tail -1")


def test_a_backup_is_taken_from_the_standby_verified_and_listed(lab: Lab) -> None:
    """The database (prepared, so it restores) and the static files, from
    node2 (the standby: node1's bookings never wait behind it)."""
    token = uuid.uuid4().hex
    lab.sh("node1", f"echo {token} > /srv/static/backup-{token}.txt")
    r = lab.hapair("backup", str(lab.spec))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "from node2, the standby" in r.stdout and "backup taken" in r.stdout
    listed = json.loads(lab.hapair("backup", str(lab.spec), "--list", "--json").stdout)
    newest = listed[-1]
    assert newest["good"] and newest["verified"] and newest["node"] == "node2", newest
    folder = Path(newest["folder"])
    assert list((folder / "db" / "roombook").glob("bookings.*")), "no bookings table"
    # What mariadb-backup --prepare leaves (MariaDB 10.11): its log applied.
    assert "backup_type = log-applied" in (folder / "db" / "xtrabackup_checkpoints").read_text()
    with tarfile.open(folder / "static.tar.gz") as tar:
        assert f"static/backup-{token}.txt" in tar.getnames()
    primary_pos = lab.sh("node1", "mariadb -N -e 'SELECT @@gtid_binlog_pos'").strip()
    assert newest["gtid"] and newest["gtid"].split("-")[:2] == primary_pos.split("-")[:2]
    assert oct(folder.stat().st_mode)[-3:] == "700"


def test_secrets_are_root_only_on_the_nodes(lab: Lab) -> None:
    modes = lab.sh("node1", "stat -c '%a %U' /etc/hapair/app-secrets.env "
                            "/etc/hapair/agent-secrets.env")
    assert modes.split() == ["600", "root", "600", "root"]


def test_no_secret_in_any_process_arguments_or_environment(lab: Lab) -> None:
    """Every value of the agent's secrets file (the database's admin and
    replication passwords, the API token, etcd's and the peer's BMC
    password where there are), looked for in every process's arguments and
    environment on both nodes (by a grep that names only a file of them): in
    none. The agent gets them as a systemd credential, not an environment
    its children would inherit."""
    needles = "/root/.hapair-test-needles"
    script = (f"umask 077; cut -d= -f2- /etc/hapair/agent-secrets.env | tr -d '\"' > {needles}; "
              f"test -s {needles} || exit 3; "
              f"grep -lFf {needles} /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null "
              f"| while read -r f; do p=${{f#/proc/}}; echo \"$f $(cat /proc/${{p%%/*}}/comm)\"; "
              f"done; rm -f {needles}")
    for node in ("node1", "node2"):
        r = lab.exec(node, "sh", "-c", script)
        assert r.returncode == 0, f"{node}: {r.stderr} (3: no secret read)"
        assert r.stdout.strip() == "", f"{node}: secrets found in {r.stdout}"


def test_the_firewall_lets_clients_reach_the_web_only(lab: Lab) -> None:
    """nftables on each node: the client (public network) reaches the web on
    the VIP only (a node's own address would take it past the VIP's holder,
    to a standby), and SSH, never the database, the agent or Gluster; the
    peer reaches them; the control point (firewall.admin_from) reaches the
    agent and a node's own web ports."""
    assert lab.reach("client", VIP, 80) and lab.reach("client", VIP, 443)
    for address in ("10.54.0.10", "10.54.0.11", VIP):
        assert lab.reach("client", address, 22), address
        for port in (3306, 8008, 24007):
            assert not lab.reach("client", address, port), (address, port)
    for address in ("10.54.0.10", "10.54.0.11"):
        for port in (80, 443):
            assert not lab.reach("client", address, port), (address, port)
    assert lab.reach("control", "10.99.0.11", 443)
    assert lab.reach("node2", "192.168.57.102", 3306)
    assert lab.reach("node2", "10.54.0.10", 8008)
    assert lab.reach("control", "10.99.0.10", 8008)
    assert not lab.reach("control", "10.99.0.10", 3306)
    rules = lab.sh("node1", "nft list table inet hapair")
    assert "policy drop" in rules


def test_a_second_apply_changes_nothing(lab: Lab) -> None:
    result = lab.hapair("lab", "apply", str(lab.spec))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "no changes" in result.stdout.splitlines()[-1], result.stdout[-3000:]


def test_apply_moves_a_mariadb_on_another_config_onto_hapairs(lab: Lab) -> None:
    """A fresh server's package starts MariaDB on its own defaults before any
    apply (the lab's machines leave it to apply): apply sees the server_id
    that is not the spec's and restarts it on hapair's config, and the
    replica replicates again."""
    lab.sh("node2", "systemctl set-environment MYSQLD_OPTS=--server-id=99 && "
           "systemctl restart mariadb && systemctl unset-environment MYSQLD_OPTS")
    assert lab.sh("node2", "mariadb -N -e 'SELECT @@server_id'").strip() == "99"
    # A replica whose server was just restarted is not yet complete: a live
    # cluster that is not settled is refused unless the operator says --force.
    result = lab.hapair("lab", "apply", str(lab.spec), "--force")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert lab.sh("node2", "mariadb -N -e 'SELECT @@server_id, @@read_only'").split() == [
        "2", "1"]
    token = uuid.uuid4().hex
    lab.sh("node1", "mariadb -e 'CREATE TABLE IF NOT EXISTS roombook.lab_probe "
                    "(token CHAR(32) PRIMARY KEY) ENGINE=InnoDB'")
    lab.sh("node1", f"mariadb -e \"INSERT INTO roombook.lab_probe VALUES ('{token}')\"")
    assert read_on(lab, "node2", f"SELECT token FROM roombook.lab_probe "
                                 f"WHERE token='{token}'", 20) == token, lab.evidence()


def _apply_with_known_hosts(lab: Lab, known_hosts: Path) -> tuple[int, str]:
    """`hapair apply --dry-run` from the lab's control point with these known hosts."""
    import subprocess
    import sys

    from hapair.lab.lifecycle import files_of
    from hapair.lab.plan import plan_lab
    from hapair.lab.sh import in_netns
    from hapair.spec import load_spec

    plan = plan_lab(load_spec(lab.spec).spec)
    files = files_of(plan)
    result = subprocess.run(in_netns(plan.control.name, [
        sys.executable, "-m", "hapair", "apply", str(lab.spec), "--secrets", str(files.secrets),
        "--ssh-key", str(files.key), "--known-hosts", str(known_hosts), "--dry-run"]),
        capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout + result.stderr


def test_apply_never_trusts_an_unknown_or_changed_host_key(lab: Lab, tmp_path: Path) -> None:
    """With the nodes' keys not in known_hosts (a machine in the middle on the
    first apply would receive every secret), or with node1's key another
    than the one known, apply stops before it sends anything, says why in one
    line, exits 2 (the operator's input to fix) and learns no key."""
    import subprocess

    from hapair.lab.lifecycle import files_of
    from hapair.lab.plan import plan_lab
    from hapair.spec import load_spec

    empty = tmp_path / "known_hosts"
    empty.write_text("")
    code, out = _apply_with_known_hosts(lab, empty)
    assert code == 2, out[-2000:]
    said = [line for line in out.splitlines() if "host key" in line]
    assert len(said) == 1, out[-2000:]
    assert "never trusted on first contact" in said[0] and "node1" in said[0], out[-2000:]
    assert empty.read_text() == ""
    # node1's keys replaced by another machine's
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()[1]
    known = files_of(plan_lab(load_spec(lab.spec).spec)).known_hosts.read_text().splitlines()
    node1 = load_spec(lab.spec).spec.node("node1").ssh
    changed = tmp_path / "changed"
    changed.write_text("".join(f"{node1} ssh-ed25519 {other}\n" if line.startswith(f"{node1} ")
                               else f"{line}\n" for line in known))
    before = changed.read_text()
    code, out = _apply_with_known_hosts(lab, changed)
    said = [line for line in out.splitlines() if "host key" in line]
    assert code == 2 and len(said) == 1, out[-2000:]
    assert "node1" in said[0] and "not the one in known_hosts" in said[0], out[-2000:]
    assert "node2" not in said[0], out[-2000:]
    assert changed.read_text() == before


def test_dry_run_plans_and_changes_nothing(lab: Lab) -> None:
    result = lab.hapair("lab", "apply", str(lab.spec), "--dry-run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "plan (nothing changed)" in result.stdout
    assert "0 to change" in result.stdout


def test_a_dependency_without_a_wheel_is_built_on_the_node(lab: Lab) -> None:
    """The path a node with no wheel for some dependency takes (a new Python,
    an uncommon machine), forced for MarkupSafe, which has a C extension:
    its source archive is shipped and compiled on the node, offline; the
    application serves on it. Then back to the wheel."""
    result = lab.hapair("lab", "apply", str(lab.spec), "--build-on-node", "markupsafe")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    site = "/opt/hapair/app/lib/python3*/site-packages"
    tags = lab.sh("node1", f"cat {site}/markupsafe-*.dist-info/WHEEL")
    assert "linux_x86_64" in tags and "manylinux" not in tags, tags  # built there, not shipped
    assert lab.sh("node1", f"ls {site}/markupsafe/").count("_speedups") >= 1
    answer = lab.sh("client", f"{curl(lab)} -m 5 -sS https://{VIP}/healthz")
    assert answer.rstrip().endswith("ok")
    back = lab.hapair("lab", "apply", str(lab.spec))
    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-2000:]
    assert "manylinux" in lab.sh("node1", f"cat {site}/markupsafe-*.dist-info/WHEEL")
