"""apply's own pyinfra operations, tested as pyinfra tests its own: a table of
facts in, the commands out. A fake host answers the facts; the operations'
generators (``_inner``) run as pyinfra would run them. Every value that
comes from the spec reaches a command quoted."""

from __future__ import annotations

import dataclasses
import io
import shlex
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.command import FileUploadCommand, StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.context import ctx_host
from pyinfra.facts.files import Directory, File

from hapair.deploy import gluster_ops, ops, venv_ops
from hapair.deploy.facts import (
    FileDigests,
    FileText,
    Gluster,
    MariaDB,
    Passwd,
    PathAnswers,
    Unit,
)
from hapair.paths import PENDING_DIR
from hapair.probes.gluster import GlusterState
from hapair.probes.mariadb import MariaDBState, SlaveStatus, Thread
from hapair.probes.units import UnitState
from hapair.render.gluster import GlusterPlan
from hapair.secrets import Secrets
from hapair.spec import ClusterSpec

HOSTILE = "/srv/data dir/$(reboot)"


class FakeHost:
    name = "node1"

    def __init__(self, facts: dict[type, Any]):
        self.facts = facts
        self.data = {"node": "node1"}
        self.noops: list[str] = []
        self.asked: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def get_fact(self, fact: type, *args: Any, **kwargs: Any) -> Any:
        """The fact's answer; what it was asked about is kept (a fact asked
        about the wrong path answers for the wrong file)."""
        self.asked.append((fact.__name__, args, kwargs))
        return self.facts[fact]

    def noop(self, message: str) -> None:
        self.noops.append(message)


@contextmanager
def on(host: FakeHost) -> Iterator[FakeHost]:
    with ctx_host.use(host):
        yield host


def commands(op: Any, host: FakeHost, *args: Any) -> list[str]:
    out = []
    with on(host):
        for c in op._inner(*args):
            if isinstance(c, FileUploadCommand):  # a script written here: with its text
                script = isinstance(c.src, io.StringIO) and c.dest.endswith(".sh")
                text = c.src.getvalue() if script else ""
                out.append(f"upload {c.dest}" + (f": {text}" if text else ""))
            else:
                out.append(str(c))
    return out


def test_a_new_datadir_is_made_and_its_path_quoted() -> None:
    fresh = FakeHost({Directory: None})
    got = commands(ops.mariadb_datadir, fresh, HOSTILE)
    assert [(name, args + tuple(kw.values())) for name, args, kw in fresh.asked] == [
        ("Directory", (f"{HOSTILE}/mysql",))]  # initialised: its system schema is there
    assert [shlex.split(c) for c in got] == [
        ["install", "-d", "-o", "mysql", "-g", "mysql", "-m", "0750", HOSTILE],
        ["mariadb-install-db", "--user=mysql", f"--datadir={HOSTILE}", "--skip-test-db",
         ">/dev/null"]]
    host = FakeHost({Directory: {"mode": 750}})
    assert commands(ops.mariadb_datadir, host, HOSTILE) == [] and host.noops


PLAN = GlusterPlan(volume="static", peers=("node1", "node2"),
                   bricks=("node1:/b", "node2:/b"),
                   create=("gluster", "volume", "create", "static", "replica", "2",
                           "node1:/b", "node2:/b", "force"), add_arbiter=(),
                   options={"network.ping-timeout": "3", "cluster.heal-timeout": "10"},
                   mount_source="localhost:/static")
WAIT = ("for i in $(seq 100); do [ $(gluster pool list | grep -c Connected) -ge {} ] && break; "
        "sleep 0.2; done")
ARBITER = dataclasses.replace(
    PLAN, peers=("node1", "node2", "w"), bricks=("node1:/b", "node2:/b", "w:/b"),
    add_arbiter=("gluster", "volume", "add-brick", "static", "replica", "3", "arbiter", "1",
                 "w:/b", "force"))
STARTED = GlusterState(up=True, peers=frozenset({"node2"}), volume_exists=True,
                       volume_started=True, bricks=("node1:/b", "node2:/b"),
                       options=dict(PLAN.options))


@pytest.mark.parametrize(("plan", "state", "want"), [
    (PLAN, GlusterState(up=True), [
        "gluster peer probe node2",
        WAIT.format(2),
        "gluster volume create static replica 2 node1:/b node2:/b force",
        "gluster volume set static cluster.heal-timeout 10 network.ping-timeout 3",
        "gluster volume start static"]),
    (PLAN, dataclasses.replace(STARTED, options={"network.ping-timeout": "42",
                                                 "cluster.heal-timeout": "10"}),
     ["gluster volume set static network.ping-timeout 3"]),
    (PLAN, STARTED, []),
    # A live replica-2 volume gains the witness's arbiter, then a full heal.
    (ARBITER, STARTED, [
        "gluster peer probe w",
        WAIT.format(3),
        "gluster volume add-brick static replica 3 arbiter 1 w:/b force",
        "gluster volume heal static full"]),
    (ARBITER, dataclasses.replace(STARTED, peers=frozenset({"node2", "w"}),
                                  bricks=ARBITER.bricks), []),
])
def test_the_gluster_pool_converges(plan: GlusterPlan, state: GlusterState,
                                    want: list[str]) -> None:
    host = FakeHost({Gluster: state})
    assert commands(gluster_ops.gluster_pool, host, plan) == want
    assert bool(host.noops) == (want == [])


TLS = dataclasses.replace(PLAN, options={**PLAN.options, "client.ssl": "on", "server.ssl": "on",
                                          "auth.ssl-allow": "node1,node2"})


def test_tls_turned_on_restarts_a_started_volume_once() -> None:
    """The bricks take TLS only at their start: a started volume without it
    is stopped and started once (its mounts are made again by mount_serving);
    a new volume starts with it, and one that has it restarts no more."""
    got = commands(gluster_ops.gluster_pool, FakeHost({Gluster: STARTED}), TLS)
    assert got == [
        WAIT.format(2),
        "gluster volume set static auth.ssl-allow node1,node2 client.ssl on server.ssl on",
        "gluster --mode=script volume stop static",
        "gluster volume start static"]
    fresh = commands(gluster_ops.gluster_pool, FakeHost({Gluster: GlusterState(up=True)}), TLS)
    assert fresh[-1] == "gluster volume start static" and not any("stop" in c for c in fresh)
    # Only the allowed names changed (a node added): set, no restart.
    has = dataclasses.replace(STARTED, options={**TLS.options, "auth.ssl-allow": "node1"})
    assert commands(gluster_ops.gluster_pool, FakeHost({Gluster: has}), TLS) == [
        "gluster volume set static auth.ssl-allow node1,node2"]


def test_a_mount_that_no_longer_answers_is_made_again() -> None:
    """A mount made before its volume turned TLS on answers "Transport
    endpoint is not connected" for good: its unit is restarted. One that
    answers is left; one not mounted is started."""
    name = "srv-static.mount"
    broken = FakeHost({**unit("mounted", "enabled"), PathAnswers: False})
    assert commands(gluster_ops.mount_serving, broken, name, "/srv/static") == [
        f"for try in 1 2 3; do if systemctl restart {name}; then exit 0; fi; sleep 1; done; exit 1"]
    assert ("PathAnswers", (), {"path": "/srv/static"}) in broken.asked
    fine = FakeHost({**unit("mounted", "enabled"), PathAnswers: True})
    assert commands(gluster_ops.mount_serving, fine, name, "/srv/static") == []
    dead = FakeHost({**unit("dead", "enabled"), PathAnswers: True})
    assert commands(gluster_ops.mount_serving, dead, name, "/srv/static") == [
        f"for try in 1 2 3; do if systemctl start {name}; then exit 0; fi; sleep 1; done; exit 1"]


def test_a_path_that_answers_is_told_from_one_that_does_not() -> None:
    assert PathAnswers().process(["yes"]) and not PathAnswers().process(["no"])
    assert "timeout 10 stat -t '/srv/my dir'" in PathAnswers().command("/srv/my dir")


def test_an_arbiter_is_not_added_to_bricks_named_by_address() -> None:
    old = dataclasses.replace(STARTED, bricks=("192.168.57.102:/b", "192.168.57.103:/b"))
    with pytest.raises(OperationError, match="named by host .nothing was changed"):
        commands(gluster_ops.gluster_pool, FakeHost({Gluster: old}), ARBITER)


def test_a_silent_glusterd_stops_the_operation() -> None:
    with pytest.raises(OperationError, match="glusterd is not answering on node1"):
        commands(gluster_ops.gluster_pool, FakeHost({Gluster: GlusterState(up=False)}), PLAN)


def test_files_upload_only_when_content_or_mode_differ() -> None:
    same = ops.FileSpec("/etc/keepalived/keepalived.conf", b"x", 0o644, ("keepalived",))
    odd = ops.FileSpec("/etc/my dir/it's.conf", b"y", 0o600, ("apache",))
    have = {same.path: (same.digest, "644"), odd.path: (odd.digest, "644")}
    got = commands(ops.put_files, FakeHost({FileDigests: have}), (same, odd))
    new = f"{odd.path}.hapair-new"
    assert len(got) == 3
    assert got[0].endswith("install -m 600 /dev/null /var/lib/hapair/incoming/files.tar")
    assert got[1] == "upload /var/lib/hapair/incoming/files.tar"
    steps = [shlex.split(c) for c in got[2].split(" && ")]  # each word as the shell reads it
    i = steps.index(["mkdir", "-p", "/etc/my dir"])
    assert steps[i + 1:i + 4] == [["mv", "-f", "/var/lib/hapair/incoming/files" + odd.path, new],
                                  ["chmod", "600", new], ["mv", "-f", new, odd.path]]
    assert "keepalived.conf" not in got[2]
    assert got[2].endswith("touch /var/lib/hapair/pending/apache")
    host = FakeHost({FileDigests: {**have, odd.path: (odd.digest, "600")}})
    assert commands(ops.put_files, host, (same, odd)) == [] and host.noops


def test_the_files_archive_holds_each_file_at_its_path_and_mode() -> None:
    import io
    import tarfile

    files = [ops.FileSpec("/etc/hapair/secrets.toml", b"s", 0o600, ()),
             ops.FileSpec("/etc/my dir/a.conf", b"abc", 0o644, ())]
    with tarfile.open(fileobj=io.BytesIO(ops.files_archive(files))) as tar:
        got = {m.name: (m.mode, tar.extractfile(m).read()) for m in tar.getmembers()}  # type: ignore[union-attr]
    assert got == {"etc/hapair/secrets.toml": (0o600, b"s"), "etc/my dir/a.conf": (0o644, b"abc")}


def test_a_noted_restart_runs_and_clears_its_note() -> None:
    got = commands(ops.when_noted, FakeHost({File: {"size": 0}}), "apache",
                   "systemctl reload apache2")
    assert len(got) == 1 and "systemctl reload apache2" in got[0]
    assert "rm -f /var/lib/hapair/pending/apache" in got[0]
    assert commands(ops.when_noted, FakeHost({File: None}), "apache", "x") == []


def test_wheels_reinstall_only_when_their_set_changes(tmp_path: Any) -> None:
    wheel = tmp_path / "hapair-0.1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    env = venv_ops.VenvSpec("/opt/my venv", (str(wheel),), str(tmp_path / "w.tar"),
                            "/tmp/w/h", ("agent",))
    jobs: dict[str, str] = {}
    got = commands(venv_ops.venvs_start, FakeHost({FileText: ""}), (env,), jobs)
    assert got[0].startswith("mkdir -p /tmp/w /var/lib/hapair/incoming/venvs")
    assert got[1] == f"upload /tmp/w/h.{env.want[:16]}.tar"
    job = jobs["node1"]
    install = env.build()
    assert got[2:] == ["upload /var/lib/hapair/incoming/venvs/venv-job.sh",
                       f"upload {job}.sh: {install}\n",
                       f"sh /var/lib/hapair/incoming/venvs/venv-job.sh start {job} "
                       "/var/lib/hapair/venvs.lock"]
    assert "rm -rf /tmp/w/h '/opt/my venv'" in install
    assert "/usr/bin/python3 -m venv --without-pip '/opt/my venv'" in install
    assert "else /usr/bin/python3 -m venv '/opt/my venv'" in install  # no pip wheel on the node
    assert f"echo {env.want} > '/opt/my venv/.hapair-wheels'" in install
    wait = commands(venv_ops.venvs_ready, FakeHost({FileText: ""}), (env,), jobs)
    assert wait == [f"sh /var/lib/hapair/incoming/venvs/venv-job.sh wait {job} 1800"]
    host, jobs = FakeHost({FileText: env.want + "\n"}), {}
    assert commands(venv_ops.venvs_start, host, (env,), jobs) == [] and host.noops
    stale = FakeHost({FileText: ""})  # not read again: the start step found it built
    assert commands(venv_ops.venvs_ready, stale, (env,), jobs) == [] and stale.noops


def test_a_venv_nobody_started_is_an_error(tmp_path: Any) -> None:
    wheel = tmp_path / "hapair-0.1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    env = venv_ops.VenvSpec("/opt/v", (str(wheel),), str(tmp_path / "w.tar"), "/tmp/w/h", ())
    with pytest.raises(OperationError, match="/opt/v not built"):
        commands(venv_ops.venvs_ready, FakeHost({FileText: ""}), (env,), {})


def test_two_stale_venvs_are_built_side_by_side(tmp_path: Any) -> None:
    wheel = tmp_path / "a-1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    envs = tuple(venv_ops.VenvSpec(f"/opt/{n}", (str(wheel),), str(tmp_path / "w.tar"),
                                   f"/opt/w/{n}", (n,)) for n in ("app", "agent"))
    jobs: dict[str, str] = {}
    got = commands(venv_ops.venvs_start, FakeHost({FileText: ""}), envs, jobs)
    assert got[1:3] == [f"upload /opt/w/app.{envs[0].want[:16]}.tar",
                        f"upload /opt/w/agent.{envs[1].want[:16]}.tar"]
    both = venv_ops.build_all(envs)
    assert both.startswith(f"failed=; ( {envs[0].build()} ) & p0=$!; "
                           f"( {envs[1].build()} ) & p1=$!;")
    assert both.endswith('wait "$p0" || failed=1; wait "$p1" || failed=1; [ -z "$failed" ]')
    assert f"upload {jobs['node1']}.sh: {both}\n" in got


def replica_state(**kw: Any) -> MariaDBState:
    return MariaDBState(up=True, **kw)


def test_replication_is_set_only_when_not_already_following(lab: ClusterSpec) -> None:
    secrets = Secrets(db_admin_password="a" * 20, db_replication_password="r'p$l" * 4,
                      db_app_password="p" * 20, api_token="t" * 30,
                      app_secret_key="k" * 30)  # type: ignore[arg-type]
    primary = lab.node("node1")
    following = replica_state(slave=SlaveStatus(io=Thread.CONNECTING, ssl=True,
                                                master_host=str(primary.interconnect)))
    host = FakeHost({MariaDB: following})
    assert commands(ops.mariadb_replica_of, host, lab, secrets, primary) == [] and host.noops
    # Following, but in clear (an older apply): set again, over TLS.
    clear = replica_state(slave=SlaveStatus(io=Thread.RUNNING,
                                            master_host=str(primary.interconnect)))
    assert commands(ops.mariadb_replica_of, FakeHost({MariaDB: clear}), lab, secrets, primary)
    got = commands(ops.mariadb_replica_of, FakeHost({MariaDB: replica_state()}), lab, secrets,
                   primary)
    # The password goes through a root-only file, never a command line.
    assert got[0] == f"upload {ops.SQL_FILE}"
    assert "r'p$l" not in got[1] and got[1].startswith(f"chmod 600 {ops.SQL_FILE}")
    assert all(isinstance(c, str) for c in got)


def test_string_commands_are_what_pyinfra_runs() -> None:
    assert isinstance(next(iter(ops.run_sql(["SELECT 1"]))), FileUploadCommand)
    assert isinstance(list(ops.run_sql(["SELECT 1"]))[1], StringCommand)


def test_apache_modules_and_site_are_one_command() -> None:
    have = {"/etc/apache2/mods-enabled/ssl.load": "x",
            "/etc/apache2/sites-enabled/000-default.conf": "x"}
    got = commands(ops.apache_links, FakeHost({FileDigests: have}),
                   ("ssl", "proxy", "headers"), "hapair")
    assert len(got) == 1
    assert got[0].startswith("a2enmod -q proxy headers && a2ensite -q hapair && "
                             "a2dissite -q 000-default && ")
    assert "pending/apache" in got[0]
    done = {**have, "/etc/apache2/mods-enabled/proxy.load": "x",
            "/etc/apache2/mods-enabled/headers.load": "x",
            "/etc/apache2/sites-enabled/hapair.conf": "x"}
    done.pop("/etc/apache2/sites-enabled/000-default.conf")
    host = FakeHost({FileDigests: done})
    assert commands(ops.apache_links, host, ("ssl", "proxy", "headers"), "hapair") == []
    hostile = commands(ops.apache_links, FakeHost({FileDigests: have}), ("ssl",), HOSTILE)
    assert ["a2ensite", "-q", HOSTILE] in [shlex.split(c) for c in hostile[0].split(" && ")]


def test_netplan_apply_only_where_udev_runs(lab: ClusterSpec) -> None:
    """A container has udevadm but no running udev (its /sys is read-only):
    netplan apply fails there, so networkd gets the generated files itself."""
    (got, clear) = commands(ops.network_apply, FakeHost({File: {"size": 0}}), lab)
    assert got.startswith("if [ -S /run/udev/control ]; then netplan apply; else netplan generate")
    assert "networkctl reconfigure ic0 pub0" in got and clear.endswith("pending/network")
    assert commands(ops.network_apply, FakeHost({File: None}), lab) == []  # nothing noted
    nic = lab.model_copy(update={"networks": lab.networks.model_copy(update={
        "public": lab.networks.public.model_copy(update={"interface": "pub 0;$(reboot)"})})})
    (hostile, _) = commands(ops.network_apply, FakeHost({File: {"size": 0}}), nic)
    assert shlex.quote("pub 0;$(reboot)") in hostile


def test_the_app_user_is_made_once_and_mended_if_changed() -> None:
    made = commands(ops.system_user, FakeHost({Passwd: None}), "app user", "/nonexistent",
                    "/usr/sbin/nologin")
    assert made == ["useradd --system --user-group --no-create-home --home-dir /nonexistent "
                    "--shell /usr/sbin/nologin 'app user'"]
    host = FakeHost({Passwd: ("/nonexistent", "/usr/sbin/nologin")})
    assert commands(ops.system_user, host, "app", "/nonexistent", "/usr/sbin/nologin") == []
    assert host.noops
    mended = commands(ops.system_user, FakeHost({Passwd: ("/home/app", "/bin/bash")}), "app",
                      "/nonexistent", "/usr/sbin/nologin")
    assert mended == ["usermod --home /nonexistent --shell /usr/sbin/nologin app"]


def test_a_passwd_line_gives_home_and_shell() -> None:
    line = "hapair-app:x:998:998::/nonexistent:/usr/sbin/nologin"
    assert Passwd().process([line]) == ("/nonexistent", "/usr/sbin/nologin")
    assert Passwd().process([]) is None


def test_the_installer_is_shipped_only_to_a_node_without_it(tmp_path: Any) -> None:
    wheel = tmp_path / "a-1-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    uv = tmp_path / "uv-0.1-py3-none-manylinux_2_17_x86_64.whl"
    uv.write_bytes(b"uv")
    env = venv_ops.VenvSpec("/opt/v", (str(wheel),), str(tmp_path / "w.tar"), "/opt/w/a", ())
    installer = venv_ops.Installer(str(uv))
    got = commands(venv_ops.venvs_start, FakeHost({FileText: ""}), (env,), {}, installer)
    assert "upload /var/lib/hapair/incoming/venvs/installer.whl" in got
    assert any(c.endswith(f".sh: {installer.unpack()} && {{ {env.build()}; }}\n") for c in got)
    assert f"echo {installer.want} > /opt/hapair/uv/.hapair-wheel" in installer.unpack()
    assert "if [ -x /opt/hapair/uv/uv ]; then" in env.build()

    class Has(FakeHost):  # the venv is stale, the installer in place
        def get_fact(self, fact: type, *args: Any, **kwargs: Any) -> Any:
            return installer.want if kwargs.get("path", "").startswith("/opt/hapair/uv") else ""

    again = commands(venv_ops.venvs_start, Has({}), (env,), {}, installer)
    assert not any("installer.whl" in c or "zipfile" in c for c in again)


def test_a_venv_with_sources_builds_them_offline_with_their_build_wheels(tmp_path: Any) -> None:
    wheel, src = tmp_path / "a-1-py3-none-any.whl", tmp_path / "m-3.tar.gz"
    wheel.write_bytes(b"wheel")
    src.write_bytes(b"source")
    plain = venv_ops.VenvSpec("/opt/v", (str(wheel),), "w.tar", "/opt/w/a", ())
    env = dataclasses.replace(plain, sources=(str(src),))
    assert env.want != plain.want  # a changed source archive rebuilds the venv
    build = env.build()
    assert "--no-index --find-links /opt/w/a --find-links /opt/w/a/build" in build
    assert "/opt/w/a/*.whl /opt/w/a/sdist/*" in build
    assert "sdist" not in plain.build() and "/build" not in plain.build()


def test_file_texts_come_back_whole_and_missing_ones_empty() -> None:
    from hapair.deploy.facts import FileTexts

    lines = ["LS0tLS1CRUdJTgpsaW5lIDIK /etc/a dir/a", " /etc/missing"]
    assert FileTexts().process(lines) == {"/etc/a dir/a": "-----BEGIN\nline 2\n",
                                          "/etc/missing": ""}


def unit(sub: str, file: str) -> dict[type, Any]:
    return {Unit: UnitState(loaded="loaded", sub=sub, file=file)}


START3 = ("for try in 1 2 3; do if systemctl start mariadb.service; then {}exit 0; fi; "
          "sleep 1; done; exit 1")


def test_a_stopped_unit_is_enabled_and_started_and_its_restart_owed_no_more() -> None:
    got = commands(ops.unit_started, FakeHost(unit("dead", "disabled")), "mariadb",
                   ("mariadb",))
    assert got == ["systemctl enable mariadb.service",
                   START3.format(f"rm -f {PENDING_DIR}/mariadb; ")]


def test_a_start_under_way_is_waited_for_and_a_running_unit_left_alone() -> None:
    """unit_starting's start (SubState "start") is not running yet: a plain
    start waits for it. A running, enabled unit needs nothing, and its
    noted restart stays owed (the restart step's)."""
    assert commands(ops.unit_started, FakeHost(unit("start", "enabled")), "mariadb") == [
        START3.format("")]
    assert commands(ops.unit_started, FakeHost(unit("running", "enabled")), "mariadb",
                    ("mariadb",)) == []
    assert commands(ops.unit_started, FakeHost(unit("exited", "static")),
                    "hapair-firewall.service") == []


def test_a_start_begun_meanwhile_clears_its_restart_once_queued() -> None:
    got = commands(ops.unit_starting, FakeHost(unit("dead", "enabled")), "mariadb",
                   ("mariadb",))
    assert got == [f"systemctl start --no-block mariadb.service && rm -f {PENDING_DIR}/mariadb"]
    assert commands(ops.unit_starting, FakeHost(unit("dead", "enabled")), "glusterd") == [
        "systemctl start --no-block glusterd.service"]
    assert commands(ops.unit_starting, FakeHost(unit("running", "enabled")), "glusterd") == []


def test_a_unit_is_stopped_and_disabled_and_a_masked_one_left() -> None:
    assert commands(ops.unit_stopped, FakeHost(unit("running", "enabled")), "etcd") == [
        "systemctl stop etcd.service", "systemctl disable etcd.service"]
    assert commands(ops.unit_stopped, FakeHost(unit("dead", "masked")), "etcd") == []


def test_a_unit_named_after_a_mount_point_with_a_hyphen_reaches_systemctl_whole() -> None:
    """systemd escapes the hyphen (srv-room\\x2dbook.mount); unquoted, the
    shell turned `\\x` into `x` and systemctl was asked for another unit."""
    from hapair.render.systemd import escape_path

    name = f"{escape_path('/srv/room-book')}.mount"
    assert "\\x2d" in name
    got = [*commands(ops.unit_started, FakeHost(unit("dead", "disabled")), name, ("gluster",)),
           *commands(ops.unit_starting, FakeHost(unit("dead", "enabled")), name),
           *commands(ops.unit_stopped, FakeHost(unit("running", "enabled")), name)]
    assert len(got) == 5
    for command in got:  # in a real sh, systemctl and rm saying what they were given
        said = subprocess.run(
            ["sh", "-c", 'systemctl() { printf "%s\\n" "$@"; }; rm() { :; }; ' + command],
            capture_output=True, text=True, check=True).stdout.splitlines()
        assert name in said, (command, said)


class Job:
    """venv-job.sh run by a real sh on this machine, on a job whose build is
    the given script."""

    def __init__(self, tmp_path: Any, build: str, name: str = "job one") -> None:
        self.job = str(tmp_path / name)  # a space: every path is quoted
        self.lock = str(tmp_path / "lock")
        (tmp_path / f"{name}.sh").write_text(build)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(venv_ops.job_script()), *args], text=True,
                              capture_output=True, timeout=30, check=False)

    def start(self) -> None:
        assert self.run("start", self.job, self.lock).returncode == 0

    def wait(self, seconds: int = 10) -> subprocess.CompletedProcess[str]:
        return self.run("wait", self.job, str(seconds))


def test_the_venv_job_script_waits_for_a_build_and_clears_it(tmp_path: Any) -> None:
    job = Job(tmp_path, "sleep 0.3; echo built\n")
    job.start()
    done = job.wait()
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob("job one.*"))  # rc, pid, log and script cleared


def test_the_venv_job_script_fails_with_the_end_of_a_failed_builds_log(tmp_path: Any) -> None:
    job = Job(tmp_path, "echo 'no wheel for foo'; exit 3\n")
    job.start()
    failed = job.wait()
    assert failed.returncode == 1
    assert "the venvs build failed:" in failed.stderr and "no wheel for foo" in failed.stderr


def test_the_venv_job_script_sees_a_build_that_died_or_overran(tmp_path: Any) -> None:
    job = Job(tmp_path, "sleep 30\n")
    job.start()
    assert "took over 0 s" in job.wait(0).stderr
    pid = int((tmp_path / "job one.pid").read_text())
    subprocess.run(["kill", "-9", "--", f"-{pid}"], check=False)  # the build's whole session
    died = job.wait()
    assert died.returncode == 1 and "ended without a result" in died.stderr


def test_a_second_build_waits_for_the_first_ones_lock(tmp_path: Any) -> None:
    order = shlex.quote(str(tmp_path / "order"))
    holds = tmp_path / "holds"
    first = Job(tmp_path, f"touch {shlex.quote(str(holds))}; sleep 0.5; echo first >> {order}\n")
    first.start()
    # start returns at once: the second waits for a lock the first holds
    # (a later apply's build), not one the first has yet to take.
    deadline = time.monotonic() + 10
    while not holds.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert holds.exists(), "the first build never started"
    second = Job(tmp_path, f"echo second >> {order}\n", "job two")
    second.start()
    assert first.wait().returncode == 0 and second.wait().returncode == 0
    assert (tmp_path / "order").read_text() == "first\nsecond\n"


def test_the_venv_job_script_refuses_a_wrong_call() -> None:
    got = subprocess.run(["sh", str(venv_ops.job_script()), "go"], capture_output=True,
                         text=True, check=False)
    assert got.returncode == 2 and "usage" in got.stderr


def test_an_owed_glusterd_restart_takes_the_hosts_bricks_with_it(tmp_path: Path) -> None:
    """glusterd's unit no longer stops the bricks (KillMode=process): the
    owed restart stops them itself, waits for them to go, and glusterd's
    start brings them back. Run with fakes for systemctl and the processes:
    nothing if glusterd is not running; else stop, kill, start, in order."""
    import os

    from hapair.deploy.gluster_ops import restart_with_bricks

    log = tmp_path / "log"
    for name, body in {"systemctl": 'echo "systemctl $*" >> LOG; '
                                    '[ "$1" != is-active ] || [ -e RUNNING ]',
                       "pkill": 'echo "pkill $*" >> LOG; rm -f BRICKS',
                       "pgrep": '[ -e BRICKS ]', "sleep": "true"}.items():
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\n" + body.replace("LOG", str(log))
                        .replace("RUNNING", str(tmp_path / "running"))
                        .replace("BRICKS", str(tmp_path / "bricks")) + "\n")
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    sh = ["sh", "-c", f"if {restart_with_bricks()}; then exit 0; fi; exit 1"]  # as owed_done
    assert subprocess.run(sh, env=env, check=False).returncode == 0
    assert log.read_text().splitlines() == ["systemctl is-active -q glusterd"]
    log.unlink()
    (tmp_path / "running").touch()
    (tmp_path / "bricks").touch()
    assert subprocess.run(sh, env=env, check=False).returncode == 0
    assert log.read_text().splitlines() == [
        "systemctl is-active -q glusterd", "systemctl stop glusterd", "pkill -x glusterfsd",
        "pkill -f -- [-]-process-name glustershd", "systemctl start glusterd"]
