"""Each renderer on the guide's cluster: what the file must say, and purity."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hapair.render import gluster, keepalived, mariadb, render_cluster, render_node
from hapair.render.files import RenderedFile
from hapair.render.systemd import escape_path
from hapair.secrets import CORE
from hapair.spec import ClusterSpec
from hapair.spec.models import Volume, Witness


def file_at(files: tuple[RenderedFile, ...], path: str) -> str:
    return next(f.content for f in files if f.path == path)


def test_rendering_is_deterministic(m2l: ClusterSpec) -> None:
    assert render_cluster(m2l) == render_cluster(m2l)


def test_both_nodes_get_the_same_set_of_files(m2l: ClusterSpec) -> None:
    rendered = render_cluster(m2l)
    paths = [[f.path for f in files] for files in rendered.values()]
    assert paths[0] == paths[1]
    assert len(set(paths[0])) == len(paths[0])


def test_keepalived_with_three_nodes_names_both_others_and_ranks_by_priority(
        m2l: ClusterSpec, m2l_three: ClusterSpec) -> None:
    texts = [keepalived.render(m2l_three, n)[0].content for n in m2l_three.nodes]
    assert [keepalived.vrrp_priority(m2l_three, n) for n in m2l_three.nodes] == [254, 253, 252]
    assert re.search(r"unicast_peer \{\s+192\.168\.57\.103\s+192\.168\.57\.104\s+\}",
                     texts[0])
    assert re.search(r"unicast_peer \{\s+192\.168\.57\.102\s+192\.168\.57\.103\s+\}",
                     texts[2])
    assert "(50 against 150, 100)" in texts[2]
    # A pair's numbers as ever: 254 for the preferred node, 253 for the other.
    assert [keepalived.vrrp_priority(m2l, n) for n in m2l.nodes] == [254, 253]


def test_keepalived_is_vrrp3_unicast_backup_nopreempt(m2l: ClusterSpec) -> None:
    node1, node2 = m2l.nodes
    text = keepalived.render(m2l, node1)[0].content
    assert "vrrp_version 3" in text
    assert re.search(r"state BACKUP\n\s+nopreempt", text)
    # Adverts on the interconnect (no client can forge one there), the VIP on
    # the public bond, whose loss puts the instance in FAULT.
    assert "interface bond0" in text
    assert "unicast_src_ip 192.168.57.102" in text
    assert re.search(r"unicast_peer \{\s+192\.168\.57\.103\s+\}", text)
    assert "10.54.0.100/24 dev bond1" in text
    assert re.search(r"track_interface \{\s+bond1\s+\}", text)
    assert "priority 254" in text and "advert_int 0.1" in text
    assert "enable_script_security" in text and "script_user nobody" in text
    # notify_fifo is a global keyword (inside an instance keepalived rejects it)
    assert text.index("notify_fifo /run/hapair/keepalived.fifo") < text.index("vrrp_instance")
    assert "init_file 1 overwrite" in text  # not eligible until the agent says so
    # Liveness (the verdict is the file), by a script that also passes while
    # the agent restarts in place (tests/unit/test_restart_window_scripts.py).
    assert f'script "{keepalived.CHECK_SCRIPT}"' in text
    check = {f.path: f for f in keepalived.render(m2l, node1)}[keepalived.CHECK_SCRIPT]
    assert check.mode == 0o755 and "http://127.0.0.1:8008/alive" in check.content
    assert "    check_unicast_src\n" in text  # adverts from the peer only
    assert "vrrp_higher_prio_send_advert true" in text  # the winner re-announces after a split
    other = keepalived.render(m2l, node2)[0].content
    assert "unicast_src_ip 192.168.57.103" in other and "priority 253" in other


def test_a_node_leaving_master_keeps_the_vip_on_lo_a_moment(m2l: ClusterSpec) -> None:
    """keepalived removes the VIP itself (a failed check, a higher advert,
    its stop) even when the agent cannot act (frozen): its notify script,
    as root, puts it on lo for as long as the agent's own drops keep it
    there, so that answers in flight still leave from it."""
    from hapair.agent.node import observe

    files = {f.path: f for f in keepalived.render(m2l, m2l.nodes[0])}
    conf = files["/etc/keepalived/keepalived.conf"].content
    for state in ("backup", "fault", "stop"):
        assert f'notify_{state} "{keepalived.VIP_LINGER}" root' in conf
    assert f'notify_master "{keepalived.VIP_LINGER} end" root' in conf  # holding it again
    script = files[keepalived.VIP_LINGER]
    assert script.mode == 0o755 and script.content.startswith("#!/bin/sh\n")
    assert "/usr/sbin/ip addr replace 10.54.0.100/32 dev lo\n" in script.content
    assert "sleep 2; /usr/sbin/ip addr del 10.54.0.100/32 dev lo" in script.content
    assert keepalived.VIP_LINGER_S == observe.LINGER_S


def test_mariadb_settings_are_safe_defaults(m2l: ClusterSpec) -> None:
    s = mariadb.settings(m2l, m2l.nodes[1])
    assert s["server_id"] == "2"
    assert s["read_only"] == "ON"
    assert s["gtid_strict_mode"] == "ON"
    assert s["binlog_format"] == "ROW"
    assert s["log_slave_updates"] == "ON"
    assert s["rpl_semi_sync_master_wait_point"] == "AFTER_SYNC"
    assert s["rpl_semi_sync_master_enabled"] == "OFF"  # the agent turns it on at promotion
    assert s["rpl_semi_sync_slave_enabled"] == "ON"
    assert s["sync_binlog"] == "1" and s["innodb_flush_log_at_trx_commit"] == "1"
    assert s["bind_address"] == "0.0.0.0"
    assert s["datadir"] == "/srv/data/mysql"
    text = mariadb.render(m2l, m2l.nodes[1])[0].content
    assert "[mariadbd]\nserver_id = 2\n" in text


def test_async_durability_turns_semi_sync_off(m2l: ClusterSpec) -> None:
    db = m2l.database.model_copy(update={"durability": "async"})
    spec = m2l.model_copy(update={"database": db})
    assert mariadb.settings(spec, spec.nodes[0])["rpl_semi_sync_slave_enabled"] == "OFF"


def test_apache_proxies_and_serves_static_from_the_volume(m2l: ClusterSpec) -> None:
    text = file_at(render_node(m2l, m2l.nodes[0]), "/etc/apache2/sites-available/hapair.conf")
    assert "<VirtualHost *:80>" in text
    assert "ProxyPass / http://127.0.0.1:8000/" in text
    assert "Alias /static /srv/static" in text
    assert text.index("ProxyPass /static !") < text.index("ProxyPass / ")
    assert "ServerName booking.m2l.example" in text


def test_apache_reads_bodies_whole_at_a_rate_floor_within_the_spec_s_limits(
        m2l: ClusterSpec) -> None:
    """web.limits in the site: the workers, mod_reqtimeout's floors, and every
    body read whole by Apache (KEEP_BODY) before the application sees it,
    refused past its size: larger on the upload paths."""
    from hapair.render import apache

    limits = m2l.web.limits.model_copy(update={"max_connections": 410, "body_min_rate": 4000,
                                               "upload_paths": ("/admin/rooms", "/x")})
    spec = m2l.model_copy(update={"web": m2l.web.model_copy(update={"limits": limits})})
    text = apache.render(spec, spec.nodes[0])[0].content
    assert "StartServers 17" in text and "MaxRequestWorkers 425" in text  # whole children
    assert "ServerLimit 34" in text  # room for the old generation during a graceful reload
    # every child started at once and kept: no ramp for a burst to fill
    assert "StartServers 17" in text and "MinSpareThreads 425" in text
    assert ("RequestReadTimeout handshake=5 header=10-20,MinRate=500 body=10,MinRate=4000"
            in text)
    tls = text.split("<VirtualHost *:443>")[1]
    assert "SetInputFilter BUFFER" in tls and "SetEnv proxy-sendcl 1" in tls
    assert "KEEP_BODY" not in text  # it crashed Apache's children under slow clients
    assert tls.index("SetInputFilter BUFFER") < tls.index("ProxyPass / ")
    assert 'RewriteCond expr "-n %{HTTP:Transfer-Encoding}"\n    RewriteRule ^ - [R=411,L]' in tls
    assert ("%{HTTP:Content-Length} -gt 1048576 && %{REQUEST_URI} !~ m#^/admin/rooms# "
            "&& %{REQUEST_URI} !~ m#^/x#") in tls
    assert '%{HTTP:Content-Length} -gt 6291456"\n    RewriteRule ^ - [R=413,L]' in tls
    assert {"reqtimeout", "buffer", "env", "rewrite"} <= set(apache.modules(spec))


def test_the_web_limits_that_contradict_each_other_are_refused() -> None:
    from hapair.spec.issues import SpecError
    from hapair.spec.load import parse_spec

    base = Path("examples/lab.toml").read_text()
    bad = base + "\n[web.limits]\nheader_timeout_s = 30\nheader_max_s = 20\n"
    with pytest.raises(SpecError) as refused:
        parse_spec(bad)
    assert "web.limits.header_max_s" in {f.path for f in refused.value.findings}
    greedy = base.replace("[firewall]", "[firewall]\nweb_connections_per_source = 0")
    warned = {f.path: f for f in parse_spec(greedy).warnings}
    assert warned["firewall.web_connections_per_source"].severity == "warning"


def test_apache_serves_https_and_sends_plain_http_there(m2l: ClusterSpec) -> None:
    from hapair.render import apache

    text = file_at(render_node(m2l, m2l.nodes[0]), apache.SITE_PATH)
    plain, tls = text.split("<VirtualHost *:443>")
    assert "RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI} [R=301,L]" in plain
    assert "RewriteCond %{REQUEST_URI} !=/healthz" in plain  # local checks stay on HTTP
    assert "ProxyPass / " not in plain  # nothing but /healthz is served in clear
    assert "SSLCertificateFile /etc/hapair/tls/web.crt" in tls
    assert 'X-Forwarded-Proto "https"' in tls and "Strict-Transport-Security" in tls
    assert apache.modules(m2l)[-1] == "ssl" and "rewrite" in apache.modules(m2l)
    own = m2l.model_copy(update={"web": m2l.web.model_copy(update={
        "tls": "files", "tls_cert": "/etc/ssl/b.pem", "tls_key": "/etc/ssl/b.key"})})
    assert "SSLCertificateKeyFile /etc/ssl/b.key" in apache.render(own, own.nodes[0])[0].content
    off = m2l.model_copy(update={"web": m2l.web.model_copy(update={"tls": "off"})})
    text = apache.render(off, off.nodes[0])[0].content
    assert "443" not in text and "https://" not in text and "ssl" not in apache.modules(off)


def test_gluster_plan_replica_two_favours_newest(m2l: ClusterSpec) -> None:
    p = gluster.plan(m2l, m2l.nodes[1])
    assert p.create == (
        "gluster", "volume", "create", "static", "replica", "2",
        "node1:/srv/data/gluster/static", "node2:/srv/data/gluster/static", "force",
    )
    assert p.add_arbiter == ()
    assert p.options["network.ping-timeout"] == "3"
    assert p.options["cluster.favorite-child-policy"] == "mtime"
    assert p.mount_source == "192.168.57.103:/static"  # each node mounts from itself
    assert json.loads(gluster.render(m2l, m2l.nodes[1])[0].content)["volume"] == "static"


def test_gluster_plan_with_an_arbiter_on_the_witness(m2l: ClusterSpec) -> None:
    spec = m2l.model_copy(update={
        "witness": Witness(name="arb", address="10.54.0.12"),  # type: ignore[arg-type]
        "volume": Volume(arbiter="arb"),
    })
    p = gluster.plan(spec, spec.nodes[0])
    brick = spec.volume.brick_path
    assert p.create[4:] == ("replica", "3", "arbiter", "1", f"node1:{brick}", f"node2:{brick}",
                            f"arb:{brick}", "force")
    assert p.add_arbiter == ("gluster", "volume", "add-brick", "static", "replica", "3",
                             "arbiter", "1", f"arb:{brick}", "force")
    assert p.options["cluster.quorum-type"] == "auto"
    assert p.options["cluster.post-op-delay-secs"] == "0"
    # Served to the pool's own addresses only, never to a client or the VIP's network at large.
    assert p.options["auth.allow"] == ("127.0.0.1,192.168.57.102,10.54.0.10,192.168.57.103,"
                                       "10.54.0.11,10.54.0.12")
    assert p.peers == ("node1", "node2", "arb")
    # TLS on the bricks' I/O; of the certificates from the cluster CA, only
    # the pool's own hosts' names let in.
    assert (p.options["client.ssl"], p.options["server.ssl"]) == ("on", "on")
    assert p.options["auth.ssl-allow"] == "node1,node2,arb"
    # The names: the data on the interconnect; the witness, not on it, sees
    # the nodes on the public network.
    assert gluster.names(spec, on_witness=False) == [
        ("192.168.57.102", "node1"), ("192.168.57.103", "node2"), ("10.54.0.12", "arb")]
    assert gluster.names(spec, on_witness=True) == [
        ("10.54.0.10", "node1"), ("10.54.0.11", "node2"), ("10.54.0.12", "arb")]


def test_netplan_declares_both_bonds(m2l: ClusterSpec) -> None:
    files = render_node(m2l, m2l.nodes[0])
    text = file_at(files, "/etc/netplan/60-hapair.yaml")
    assert "    bond0:\n      interfaces: [eth0, eth1]" in text
    assert "addresses: [192.168.57.102/24]" in text
    assert "mode: balance-rr" in text and "mode: active-backup" in text
    assert "primary: eth2" in text
    assert next(f for f in files if "netplan" in f.path).mode == 0o600


def test_ifupdown_stanzas(m2l: ClusterSpec) -> None:
    text = file_at(render_node(m2l, m2l.nodes[1]), "/etc/network/interfaces.d/hapair")
    assert "iface bond0 inet static\n    address 192.168.57.103/24" in text
    assert "bond-slaves eth2 eth3\n    bond-mode active-backup" in text
    assert "iface eth0 inet manual\n    bond-master bond0" in text


def test_lab_without_bonds_uses_plain_interfaces(lab: ClusterSpec) -> None:
    files = render_node(lab, lab.nodes[0])
    assert "bonds:" not in file_at(files, "/etc/netplan/60-hapair.yaml")
    assert "dev pub0" in file_at(files, "/etc/keepalived/keepalived.conf")
    assert not any(f.component == "raid" for f in files)  # no storage declared


def test_raid_plan(m2l: ClusterSpec) -> None:
    files = render_node(m2l, m2l.nodes[0])
    conf = file_at(files, "/etc/mdadm/mdadm.conf")
    assert "ARRAY /dev/md0 level=raid1 num-devices=2 devices=/dev/sdb,/dev/sdc" in conf
    script = file_at(files, "/etc/hapair/raid-create.sh")
    assert "mdadm --create /dev/md0 --level=1 --raid-devices=2" in script
    assert "HAPAIR_WIPE" in script
    assert script.index("blkid") < script.index("mdadm --create")
    assert "What=/dev/md0" in file_at(files, "/etc/systemd/system/srv-data.mount")


def test_units(m2l: ClusterSpec) -> None:
    files = render_node(m2l, m2l.nodes[1])
    app = file_at(files, "/etc/systemd/system/hapair-app.service")
    assert "--bind 127.0.0.1:8000 --workers 4" in app and "roombook.wsgi:app" in app
    assert "--worker-class gthread --threads 4" in app and "--timeout 30 " in app
    assert "User=hapair-app" in app
    assert "--config /etc/hapair/gunicorn.conf.py" in app
    agent = file_at(files, "/etc/systemd/system/hapair-agent.service")
    assert "--node node2" in agent
    mount = file_at(files, "/etc/systemd/system/srv-static.mount")
    assert "What=192.168.57.103:/static" in mount and "Type=glusterfs" in mount


@pytest.mark.parametrize("path", ["/srv/static", "/srv/my-data", "/", "/a.b/c_d"])
def test_escape_path_matches_systemd(path: str) -> None:
    tool = shutil.which("systemd-escape")
    if tool is None:
        pytest.skip("systemd-escape not installed")
    expected = subprocess.run([tool, "--path", path], capture_output=True, text=True, check=True)
    assert escape_path(path) == expected.stdout.strip()


def test_rendered_files_hold_no_secret(m2l: ClusterSpec) -> None:
    # Secrets reach a node only through apply, into 0600 files; rendering never
    # sees them, so nothing rendered may even name one.
    # (A placeholder such as {db_password} names one: apply fills it, into
    # the root-only file; the spec as the agent reads it keeps the name.)
    names = [*CORE, "password"]
    assert "{db_password}" in m2l.model_dump_json()  # the check below has something to strip
    for files in render_cluster(m2l).values():
        for f in files:
            text = re.sub(r"\{[a-z_]+\}", "", f.content.lower())
            assert not any(n in text for n in names), f.path


def test_etcd_only_with_a_witness_three_members_on_the_public_network(m2l: ClusterSpec) -> None:
    from hapair.render import etcd

    assert etcd.render(m2l, m2l.nodes[0]) == [] and etcd.render_witness(m2l) == []
    spec = m2l.model_copy(update={"witness": Witness(name="arb", address="10.54.0.12")})
    env = file_at(tuple(etcd.render(spec, spec.nodes[1])), etcd.ENV_PATH)
    assert "ETCD_NAME=node2\n" in env
    assert ("ETCD_INITIAL_CLUSTER=node1=https://10.54.0.10:2380,node2=https://10.54.0.11:2380,"
            "arb=https://10.54.0.12:2380\n") in env
    assert "ETCD_LISTEN_CLIENT_URLS=https://10.54.0.11:2379,https://127.0.0.1:2379\n" in env
    assert "ETCD_CLIENT_CERT_AUTH=true\n" in env and "ETCD_PEER_CLIENT_CERT_AUTH=true\n" in env
    # The leader key's revisions (five a second) compacted, or etcd fills its quota.
    assert "ETCD_AUTO_COMPACTION_MODE=periodic\nETCD_AUTO_COMPACTION_RETENTION=5m\n" in env
    witness = file_at(tuple(etcd.render_witness(spec)), etcd.ENV_PATH)
    assert "ETCD_NAME=arb\n" in witness and "witness arb" in witness
    assert dict(etcd.members(spec))["arb"] == "10.54.0.12"


def test_every_placeholder_the_spec_allows_is_filled(m2l: ClusterSpec) -> None:
    from hapair.render.appenv import SECRET_FIELDS, plain_values
    from hapair.spec.web import PLACEHOLDERS

    assert set(plain_values(m2l, m2l.nodes[0])) | set(SECRET_FIELDS) == set(PLACEHOLDERS)


def test_tls_on_a_started_volume_restarts_it_and_nothing_else_does() -> None:
    want = {"client.ssl": "on", "server.ssl": "on", "auth.ssl-allow": "a,b"}
    assert gluster.restarts_volume({}, want)
    assert gluster.restarts_volume({"client.ssl": "on"}, want)
    assert not gluster.restarts_volume({**want, "auth.ssl-allow": "a"}, want)
    assert not gluster.restarts_volume({}, {"network.ping-timeout": "3"})


def test_the_gluster_mount_unmounts_lazily_and_the_raid_one_not(m2l: ClusterSpec) -> None:
    """Made again (mount_serving) while a photo is open, the Gluster mount
    must let go at once."""
    files = {f.path: f.content for f in render_node(m2l, m2l.nodes[0])}
    lazy = [p for p, text in files.items() if "LazyUnmount=yes" in text]
    assert len(lazy) == 1 and "static" in lazy[0]
    assert sum(p.endswith(".mount") for p in files) == 2


def test_glusterd_leaves_its_bricks_to_apply_on_every_host_of_the_pool(m2l: ClusterSpec) -> None:
    """Upstream's KillMode=process on each node, and on the witness where it
    holds the arbiter: a glusterd restart in the lab's containers otherwise
    hung for its 300 s stop timeout."""
    files = {f.path: f.content for f in render_node(m2l, m2l.nodes[0])}
    assert "KillMode=process" in files[gluster.GLUSTERD_DROPIN]
    assert gluster.render_witness(m2l) == []  # no witness
    watching = m2l.model_copy(update={
        "witness": Witness(name="arb", address="10.54.0.12")})  # type: ignore[arg-type]
    assert gluster.render_witness(watching) == []  # a witness without the arbiter
    arbiter = watching.model_copy(update={"volume": Volume(arbiter="arb")})
    (dropin,) = gluster.render_witness(arbiter)
    assert dropin.path == gluster.GLUSTERD_DROPIN and "witness arb" in dropin.content
    assert "KillMode=process" in dropin.content


def test_gunicorn_s_hooks_mark_each_loaded_worker_and_unmark_it(m2l: ClusterSpec,
                                                                 tmp_path: Path) -> None:
    """The rendered hooks, run as gunicorn runs them (a worker object with
    its pid): a file per loaded worker, gone when the worker exits."""
    from types import SimpleNamespace

    text = file_at(render_node(m2l, m2l.nodes[0]), "/etc/hapair/gunicorn.conf.py")
    hooks: dict[str, Any] = {}
    exec(compile(text, "gunicorn.conf.py", "exec"), hooks)  # noqa: S102 - our own render
    assert hooks["LOADED"] == "/run/hapair-app/loaded"
    hooks["LOADED"] = str(tmp_path / "loaded")
    hooks["when_ready"](SimpleNamespace(num_workers=2))
    hooks["post_worker_init"](SimpleNamespace(pid=4242))
    hooks["post_worker_init"](SimpleNamespace(pid=4243))
    assert sorted(p.name for p in (tmp_path / "loaded").iterdir()) == ["4242", "4243", "wanted"]
    assert (tmp_path / "loaded" / "wanted").read_text() == "2"
    hooks["worker_exit"](None, SimpleNamespace(pid=4242))
    hooks["worker_exit"](None, SimpleNamespace(pid=4242))  # twice: no error
    assert sorted(p.name for p in (tmp_path / "loaded").iterdir()) == ["4243", "wanted"]
