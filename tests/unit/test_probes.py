"""Probe parsers on output captured from real servers in the lab."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hapair.probes import gluster, keepalived, mariadb, units

FIX = Path(__file__).resolve().parent.parent / "fixtures"


def text(name: str) -> str:
    return (FIX / name).read_text()


def test_mariadb_replica_state() -> None:
    st = mariadb.parse_state(text("mariadb/state-replica.txt"))
    assert st.up and st.read_only and st.server_id == 2
    assert st.gtid_current_pos == "0-1-31"
    assert st.semi_sync_slave and not st.semi_sync_master
    assert "roombook@localhost" in st.users and "repl@192.168.57.102" in st.users
    assert {"hapair", "roombook"} <= st.schemas
    assert st.slave.configured and st.slave.master_host == "192.168.57.102"
    assert st.slave.io is mariadb.Thread.RUNNING and st.slave.sql is mariadb.Thread.RUNNING
    assert st.slave.io_running and not st.slave.stopped and st.slave.broken == ""
    assert st.slave.using_gtid == "Slave_Pos" and st.slave.seconds_behind == 0


def test_mariadb_primary_state() -> None:
    st = mariadb.parse_state(text("mariadb/state-primary.txt"))
    assert st.up and not st.read_only and st.server_id == 1
    assert not st.slave.configured


def test_mariadb_accounts_that_may_change_tables() -> None:
    """Captured from the lab's primary after apply: only the migration
    account (and the agent, on its own schema) may change tables."""
    st = mariadb.parse_state(text("mariadb/state-primary-accounts.txt"))
    assert "roombook_migrate@localhost roombook" in st.ddl
    assert not any(d.startswith("roombook@") for d in st.ddl)
    assert {"roombook@localhost", "roombook_migrate@127.0.0.1"} <= st.users
    assert "roombook" in st.schemas and st.gtid_binlog_pos == "0-1-16282"


def test_mariadb_down() -> None:
    st = mariadb.parse_state(text("mariadb/state-down.txt"))
    assert not st.up and "Can't connect" in st.error


def test_replication_words_become_types() -> None:
    gone = mariadb.slave_status({"Slave_IO_Running": "No", "Slave_SQL_Running": "Yes",
                                 "Master_Host": "192.168.57.102", "Last_IO_Errno": "1236",
                                 "Last_IO_Error": "Could not find GTID state"})
    assert gone.io is mariadb.Thread.STOPPED and gone.stopped and not gone.io_running
    assert gone.broken == "Could not find GTID state"
    connecting = mariadb.slave_status({"Slave_IO_Running": "Connecting",
                                       "Slave_SQL_Running": "Yes", "Last_IO_Errno": "2003"})
    assert not connecting.stopped and connecting.broken == ""
    assert mariadb.slave_status({"Last_SQL_Errno": "1062"}).broken == "SQL error 1062"
    assert mariadb.Thread.parse("Preparing") is mariadb.Thread.NONE


def test_the_agent_and_apply_read_the_same_state() -> None:
    """One probe: the driver's answers by column name give what the client's text gives."""
    via_client = mariadb.parse_state(text("mariadb/state-primary.txt"))
    variables = {"read_only": 0, "server_id": 1, "gtid_binlog_pos": "0-1-31",
                 "gtid_slave_pos": "", "gtid_current_pos": "0-1-31", "semi_sync_master": 1,
                 "semi_sync_slave": 0}
    via_driver = mariadb.from_answers(variables, mariadb.slave_status({}),
                                      mariadb.semi_sync({}), {})
    assert via_driver == mariadb.MariaDBState(
        **{**via_client.__dict__, "users": frozenset(), "schemas": frozenset()})
    assert set(variables) == set(mariadb.VARIABLES)


def test_the_epoch_line_of_the_client_probe() -> None:
    st = mariadb.parse_state("read_only\t1\nepoch\t4 node2 12.5\n--slave--\n")
    assert (st.epoch, st.epoch_primary, st.epoch_age_s) == (4, "node2", 12.5)


def test_slave_status_alone() -> None:
    assert not mariadb.parse_slave_status(text("mariadb/slave-status-none.txt")).configured
    running = mariadb.parse_slave_status(text("mariadb/slave-status-running.txt"))
    assert running.master_port == 3306 and running.last_io_error == ""


def test_gluster_started_volume() -> None:
    st = gluster.parse_state(text("gluster/state-started.txt"))
    assert st.up and st.peers == {"192.168.57.103"} and st.connected == {"192.168.57.103"}
    assert st.volume_exists and st.volume_started
    assert st.bricks == ("192.168.57.102:/srv/gluster/static", "192.168.57.103:/srv/gluster/static")
    assert st.options["network.ping-timeout"] == "3"
    assert st.options["cluster.favorite-child-policy"] == "mtime"


def test_gluster_no_volume_and_down() -> None:
    st = gluster.parse_state(text("gluster/state-no-volume.txt"))
    assert st.up and not st.volume_exists and not st.volume_started
    assert not gluster.parse_state(text("gluster/state-glusterd-down.txt")).up


def test_gluster_disconnected_peer() -> None:
    peers, connected = gluster.parse_pool_list(text("gluster/pool-peer-disconnected.txt"))
    assert peers == {"192.168.57.103"} and not connected


def _status(captured: str) -> dict[str, str]:
    """SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%' as captured (tab-separated,
    a header), as the name -> value rows the agent's query returns."""
    return {name.strip(): value.strip() for name, _, value in
            (line.partition("\t") for line in captured.splitlines())}


def _last_state(lines: list[str], instance: str) -> str:
    """The instance's state after these fifo lines (UNKNOWN if none names it)."""
    state = "UNKNOWN"
    for line in lines:
        t = keepalived.parse_line(line)
        if t is not None and t.kind == "INSTANCE" and t.name == instance:
            state = t.state
    return state


def test_semi_sync_on_the_primary_and_the_replica() -> None:
    primary = mariadb.semi_sync(_status(text("mariadb/semisync-status-primary.txt")))
    assert primary.master_on and primary.master_clients == 1 and primary.no_tx == 0
    assert primary.waiting_sessions == 0 and not primary.slave_on
    replica = mariadb.semi_sync(_status(text("mariadb/semisync-status-replica.txt")))
    assert replica.slave_on and not replica.master_on and replica.master_clients == 0


def test_keepalived_fifo_of_a_restarting_primary() -> None:
    lines = text("keepalived/fifo-primary-restart.txt").splitlines()
    states = [keepalived.parse_line(line) for line in lines]
    assert [t.state for t in states if t] == ["FAULT", "BACKUP", "MASTER", "STOP", "FAULT",
                                              "BACKUP", "MASTER"]
    assert all(t and t.name == "LAB_VIP" and t.priority == 150 for t in states)
    assert _last_state(lines, "LAB_VIP") == "MASTER"
    assert _last_state(lines, "OTHER") == "UNKNOWN"


def test_keepalived_fifo_of_an_ineligible_replica() -> None:
    lines = text("keepalived/fifo-replica-restart.txt").splitlines()
    assert _last_state(lines, "LAB_VIP") == "FAULT"


def test_keepalived_fifo_odd_lines() -> None:
    assert keepalived.parse_line("") is None
    assert keepalived.parse_line('INSTANCE "unterminated') is None
    assert keepalived.parse_line("NOTICE something") is None
    odd = keepalived.parse_line('INSTANCE "X" SOMETHING 1')
    assert odd is not None and odd.state == "UNKNOWN"


def test_replication_over_tls_and_accounts_without_it() -> None:
    captured = text("mariadb/slave-status-running.txt")
    assert not mariadb.parse_slave_status(captured).ssl  # captured before TLS
    tls = captured.replace("Master_SSL_Allowed: No", "Master_SSL_Allowed: Yes")
    assert mariadb.parse_slave_status(tls).ssl
    st = mariadb.parse_state(text("mariadb/state-primary-accounts.txt").replace(
        "--slave--", "plain\trepl@10.54.0.10\n--slave--"))
    assert st.plain == frozenset({"repl@10.54.0.10"})


@pytest.mark.parametrize(("fixture", "running", "enabled"), [
    ("running-enabled", True, True),       # hapair-etcd on the witness
    ("oneshot-exited", True, True),        # hapair-firewall: a oneshot that stays
    ("stopped-disabled", False, False),    # nftables.service: hapair's own unit loads the rules
    ("masked", False, False),              # Debian's etcd.service in the lab
    ("static-dead", False, True),          # apt-daily.service: nothing to enable
    ("activating", False, False),          # a Type=notify start under way
    ("failed-transient", False, False),
    ("not-found", False, False),
])
def test_systemd_unit_states(fixture: str, running: bool, enabled: bool) -> None:
    st = units.parse_state(text(f"systemd/{fixture}.txt"))
    assert (st.running, st.enabled) == (running, enabled)


def test_systemd_unit_state_names_its_parts() -> None:
    st = units.parse_state(text("systemd/masked.txt"))
    assert (st.loaded, st.sub, st.file) == ("masked", "dead", "masked")
    assert units.parse_state(text("systemd/activating.txt")).sub == "start"
    assert units.parse_state(text("systemd/not-found.txt")).file == ""
    assert units.state_command("a b.service").endswith("-- 'a b.service'")


def test_a_units_state_and_since_when() -> None:
    from hapair.probes.units import parse_since

    active = parse_since((FIX / "systemd/since-active.txt").read_text())
    assert active.state == "active" and active.at == 61525.82627
    assert active.settling(61530.0, 15.0) and not active.settling(61982.0, 15.0)
    stopping = parse_since((FIX / "systemd/since-deactivating.txt").read_text())
    assert stopping.settling(99999.0, 15.0)  # stopping: left alone however long
    assert parse_since("") == parse_since("ActiveState=\n") and not parse_since("").settling(0, 15)


def test_a_restarted_agent_starts_from_keepalived_s_last_state(tmp_path: Path) -> None:
    """keepalived says nothing until its next transition: the agent keeps the
    last one it read and starts from it, not from UNKNOWN."""
    import os
    import threading

    from hapair.agent.node.fifo import FifoReader

    path = str(tmp_path / "keepalived.fifo")
    assert FifoReader(path, lambda _s: None).state == "UNKNOWN"  # never heard
    seen = threading.Event()
    first = FifoReader(path, lambda _s: seen.set())
    first.start()
    deadline = time.monotonic() + 5
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(path, "w") as fifo:
        fifo.write('INSTANCE "PAIR_VIP" MASTER 150\n')
    assert seen.wait(5) and first.state == "MASTER"
    assert FifoReader(path, lambda _s: None).state == "MASTER"  # the next agent
    (tmp_path / "keepalived.fifo.last").write_text("nonsense")
    assert FifoReader(path, lambda _s: None).state == "UNKNOWN"
