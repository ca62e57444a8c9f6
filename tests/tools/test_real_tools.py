"""The rendered files, checked by the real tools that will read them."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hapair.render import apache, keepalived
from hapair.spec import ClusterSpec, load_spec
from tests.conftest import EXAMPLES
from tests.tools.conftest import EXAMPLE_NAMES, mariadbd

NODES = ("node1", "node2")
CASES = [(e, n) for e in EXAMPLE_NAMES for n in NODES]


def run(*cmd: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=check)


@contextmanager
def namespace_with(interfaces: list[str]) -> Iterator[str]:
    """A throwaway network namespace holding the named interfaces (veth ends)."""
    name = f"hapair-t-{uuid.uuid4().hex[:8]}"
    run("ip", "netns", "add", name, check=True)
    try:
        run("ip", "-n", name, "link", "set", "lo", "up", check=True)
        for i, ifname in enumerate(interfaces):
            run("ip", "-n", name, "link", "add", ifname, "type", "veth",
                "peer", "name", f"peer{i}", check=True)
            run("ip", "-n", name, "link", "set", ifname, "up", check=True)
        yield name
    finally:
        run("ip", "netns", "del", name)


def keepalived_check(ns: str, conf: Path) -> tuple[int, str]:
    # keepalived 2.2.7 ends a config test that has scripts by SIGTERMing itself
    # (killed by signal 15) whether the file is clean or not: what it prints is the verdict.
    r = run("ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(conf))
    return r.returncode, (r.stdout + r.stderr).strip()


@pytest.mark.parametrize(("example", "node"), CASES)
def test_keepalived_accepts_the_config(rendered: dict[str, Path], example: str, node: str) -> None:
    spec = load_spec(EXAMPLES / f"{example}.toml").spec
    conf = rendered[example] / node / "etc/keepalived/keepalived.conf"
    devices = [spec.networks.public.device, spec.networks.interconnect.device]
    with namespace_with(devices) as ns:
        code, said = keepalived_check(ns, conf)
    assert code in (0, -15) and said == "", said


def test_keepalived_accepts_a_three_node_config(m2l_three: ClusterSpec, tmp_path: Path) -> None:
    """Every other node a unicast peer (the renderer serves N nodes ahead of
    the agents: docs/three-nodes.md)."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(keepalived.render(m2l_three, m2l_three.nodes[2])[0].content)
    with namespace_with(["bond1", "bond0"]) as ns:
        code, said = keepalived_check(ns, conf)
    assert code in (0, -15) and said == "", said


def test_keepalived_check_catches_a_broken_config(
    rendered: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "keepalived.conf"
    text = (rendered["m2l"] / "node1/etc/keepalived/keepalived.conf").read_text()
    broken.write_text(text.replace("advert_int", "advert_every"))
    with namespace_with(["bond1", "bond0"]) as ns:
        _, said = keepalived_check(ns, broken)
    assert "advert_every" in said


def test_keepalived_needs_the_interfaces_it_names(rendered: dict[str, Path]) -> None:
    with namespace_with(["eth9"]) as ns:
        _, said = keepalived_check(ns, rendered["m2l"] / "node1/etc/keepalived/keepalived.conf")
    assert "bond1" in said


APACHE_WRAPPER = """\
ServerRoot /etc/apache2
ServerName localhost
PidFile {tmp}/apache.pid
DefaultRuntimeDir {tmp}
Mutex file:{tmp}
ErrorLog {tmp}/error.log
Listen 127.0.0.1:65531
{modules}
Include {site}
"""
# Debian's defaults that the site relies on (a2enmod ssl brings socache_shmcb).
APACHE_BASE_MODULES = ("mpm_event", "authz_core", "socache_shmcb")


def load_modules(names: tuple[str, ...]) -> str:
    return "\n".join(f"LoadModule {n}_module /usr/lib/apache2/modules/mod_{n}.so" for n in names)


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_apache_accepts_the_site(rendered: dict[str, Path], example: str, tmp_path: Path) -> None:
    site = rendered[example] / "node1/etc/apache2/sites-available/hapair.conf"
    wrapper = tmp_path / "apache2.conf"
    # Only the modules apply enables: a directive whose module it forgets fails here.
    enabled = APACHE_BASE_MODULES + apache.modules(load_spec(EXAMPLES / f"{example}.toml").spec)
    wrapper.write_text(APACHE_WRAPPER.format(tmp=tmp_path, site=site,
                                             modules=load_modules(enabled)))
    r = run("apache2", "-t", "-f", str(wrapper))
    assert r.returncode == 0 and "Syntax OK" in r.stderr, r.stderr


@pytest.mark.parametrize(("example", "node"), [("m2l", "node2"), ("lab", "node1")])
def test_mariadbd_starts_on_the_config(
    rendered: dict[str, Path], example: str, node: str, tmp_path: Path
) -> None:
    cnf = rendered[example] / node / "etc/mysql/mariadb.conf.d/60-hapair.cnf"
    with mariadbd(cnf, tmp_path) as sock:
        names = ("read_only", "server_id", "gtid_strict_mode", "binlog_format", "log_bin",
                 "log_slave_updates", "rpl_semi_sync_master_wait_point",
                 "rpl_semi_sync_slave_enabled", "rpl_semi_sync_master_enabled", "sync_binlog",
                 "event_scheduler")
        query = "SELECT " + ", ".join(f"@@{n}" for n in names)
        r = run("mariadb", f"--socket={sock}", "-N", "-B", "-e", query, check=True)
        got = dict(zip(names, r.stdout.split(), strict=True))
    assert got == {
        "read_only": "1", "server_id": node[-1], "gtid_strict_mode": "1",
        "binlog_format": "ROW", "log_bin": "1", "log_slave_updates": "1",
        "rpl_semi_sync_master_wait_point": "AFTER_SYNC", "rpl_semi_sync_slave_enabled": "1",
        "rpl_semi_sync_master_enabled": "0", "sync_binlog": "1", "event_scheduler": "ON",
    }
    assert "[ERROR]" not in (tmp_path / "error.log").read_text()


@pytest.mark.parametrize(("example", "node"), CASES)
def test_netplan_generates_networkd_files(
    rendered: dict[str, Path], example: str, node: str, tmp_path: Path
) -> None:
    yaml = rendered[example] / node / "etc/netplan/60-hapair.yaml"
    (tmp_path / "etc/netplan").mkdir(parents=True)
    target = tmp_path / "etc/netplan/60-hapair.yaml"
    target.write_text(yaml.read_text())
    os.chmod(target, 0o600)
    r = run("netplan", "generate", "--root-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    generated = {p.name: p.read_text() for p in (tmp_path / "run/systemd/network").iterdir()}
    spec = load_spec(EXAMPLES / f"{example}.toml").spec
    addr = str(spec.node(node).public)
    assert any(f"Address={addr}/24" in t for t in generated.values())
    if example == "m2l":
        assert "Mode=balance-rr" in generated["10-netplan-bond0.netdev"]
        assert "Mode=active-backup" in generated["10-netplan-bond1.netdev"]


def test_netplan_rejects_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "etc/netplan").mkdir(parents=True)
    bad = tmp_path / "etc/netplan/60-hapair.yaml"
    bad.write_text("network:\n  version: 2\n  bonds:\n    bond0:\n      parameters:\n"
                   "        mode: balance-foo\n")
    os.chmod(bad, 0o600)
    assert run("netplan", "generate", "--root-dir", str(tmp_path)).returncode != 0


@pytest.mark.parametrize(("example", "node"), CASES)
def test_ifupdown_reads_the_stanzas(rendered: dict[str, Path], example: str, node: str) -> None:
    path = rendered[example] / node / "etc/network/interfaces.d/hapair"
    spec = load_spec(EXAMPLES / f"{example}.toml").spec
    device = spec.networks.public.device
    r = run("ifquery", "-i", str(path), device)
    assert r.returncode == 0, r.stderr
    assert f"address: {spec.node(node).public}" in r.stdout


def test_a_backup_stream_mbstream_refuses_is_an_error_with_its_words(tmp_path: Path) -> None:
    """hapair backup and the rebuild unpack through mbstream: when it stops
    reading, its own message is the error (not a bare broken pipe)."""
    import io

    from hapair.xbstream import unpack
    with pytest.raises(RuntimeError, match="mbstream failed: .+"):
        unpack(io.BytesIO(b"x" * (4 << 20)), tmp_path / "missing" / "dir")
