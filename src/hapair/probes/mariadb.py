"""MariaDB probes: the server's role and replication state, users, schemas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Printed as "key<TAB>value" lines; SHOW SLAVE STATUS\G follows a "--slave--" line.
STATE_SQL = (
    "SELECT 'read_only', @@read_only "
    "UNION ALL SELECT 'server_id', @@server_id "
    "UNION ALL SELECT 'gtid_binlog_pos', @@gtid_binlog_pos "
    "UNION ALL SELECT 'gtid_slave_pos', @@gtid_slave_pos "
    "UNION ALL SELECT 'gtid_current_pos', @@gtid_current_pos "
    "UNION ALL SELECT 'semi_sync_master', @@rpl_semi_sync_master_enabled "
    "UNION ALL SELECT 'semi_sync_slave', @@rpl_semi_sync_slave_enabled "
    "UNION ALL SELECT 'user', CONCAT(user, '@', host) FROM mysql.user "
    "UNION ALL SELECT 'schema', schema_name FROM information_schema.schemata"
)


def state_command(client: str = "mariadb") -> str:
    return (
        f'{client} -N -B -e "{STATE_SQL}" 2>&1 || echo "--down--"; '
        f"echo --slave--; {client} -e 'SHOW SLAVE STATUS\\G' 2>/dev/null || true"
    )


@dataclass(frozen=True)
class SlaveStatus:
    io_running: str = ""  # Yes / No / Connecting
    sql_running: str = ""
    master_host: str = ""
    master_port: int = 0
    using_gtid: str = ""
    last_io_error: str = ""
    last_sql_error: str = ""
    seconds_behind: int | None = None
    gtid_io_pos: str = ""
    io_errno: int = 0
    sql_errno: int = 0

    @property
    def configured(self) -> bool:
        return bool(self.master_host)


@dataclass(frozen=True)
class MariaDBState:
    up: bool
    error: str = ""
    read_only: bool = True
    server_id: int = 0
    gtid_binlog_pos: str = ""
    gtid_slave_pos: str = ""
    gtid_current_pos: str = ""
    semi_sync_master: bool = False
    semi_sync_slave: bool = False
    users: frozenset[str] = field(default_factory=frozenset)
    schemas: frozenset[str] = field(default_factory=frozenset)
    slave: SlaveStatus = SlaveStatus()


def parse_slave_status(text: str) -> SlaveStatus:
    """SHOW SLAVE STATUS\\G: "   Key: value" lines; empty when not a replica."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and not key.startswith("*"):
            values[key.strip()] = value.strip()
    return slave_status(values)


def _int(raw: object) -> int:
    text = str(raw if raw is not None else "")
    return int(text) if text.isdigit() else 0


def slave_status(row: Mapping[str, object]) -> SlaveStatus:
    """One row of SHOW SLAVE STATUS, by column name (the client's or a driver's)."""
    values = {k: "" if v is None else str(v) for k, v in row.items()}
    behind = values.get("Seconds_Behind_Master", "")
    return SlaveStatus(
        io_running=values.get("Slave_IO_Running", ""),
        sql_running=values.get("Slave_SQL_Running", ""),
        master_host=values.get("Master_Host", ""),
        master_port=int(values.get("Master_Port") or 0),
        using_gtid=values.get("Using_Gtid", ""),
        last_io_error=values.get("Last_IO_Error", ""),
        last_sql_error=values.get("Last_SQL_Error", ""),
        seconds_behind=int(behind) if behind.isdigit() else None,
        gtid_io_pos=values.get("Gtid_IO_Pos", ""),
        io_errno=_int(values.get("Last_IO_Errno")),
        sql_errno=_int(values.get("Last_SQL_Errno")),
    )


def parse_state(output: str) -> MariaDBState:
    head, _, slave_text = output.partition("--slave--")
    if "--down--" in head:
        said = [line for line in head.splitlines() if line and line != "--down--"]
        return MariaDBState(up=False, error=" ".join(said)[:300])
    values: dict[str, str] = {}
    users: set[str] = set()
    schemas: set[str] = set()
    for line in head.splitlines():
        key, sep, value = line.partition("\t")
        if not sep:
            continue
        if key == "user":
            users.add(value)
        elif key == "schema":
            schemas.add(value)
        else:
            values[key] = value
    return MariaDBState(
        up=True,
        read_only=values.get("read_only") != "0",
        server_id=int(values.get("server_id") or 0),
        gtid_binlog_pos=values.get("gtid_binlog_pos", ""),
        gtid_slave_pos=values.get("gtid_slave_pos", ""),
        gtid_current_pos=values.get("gtid_current_pos", ""),
        semi_sync_master=values.get("semi_sync_master") == "1",
        semi_sync_slave=values.get("semi_sync_slave") == "1",
        users=frozenset(users),
        schemas=frozenset(schemas),
        slave=parse_slave_status(slave_text),
    )


SEMI_SYNC_STATUS = "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'"


@dataclass(frozen=True)
class SemiSync:
    """What semi-sync is doing now (not what it is configured to do)."""

    master_on: bool  # a primary waiting for acknowledgements (OFF: it went async)
    master_clients: int  # replicas connected as semi-sync
    waiting_sessions: int  # commits waiting for an acknowledgement right now
    no_tx: int  # commits that were not acknowledged (async fall-back)
    slave_on: bool


def parse_semi_sync(text: str) -> SemiSync:
    """SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%' (tab-separated, with a header)."""
    v: dict[str, str] = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        v[name.strip()] = value.strip()
    return semi_sync(v)


def semi_sync(v: dict[str, str]) -> SemiSync:
    """The Rpl_semi_sync% status variables, by name."""

    def num(key: str) -> int:
        return _int(v.get(key))

    return SemiSync(
        master_on=v.get("Rpl_semi_sync_master_status") == "ON",
        master_clients=num("Rpl_semi_sync_master_clients"),
        waiting_sessions=num("Rpl_semi_sync_master_wait_sessions"),
        no_tx=num("Rpl_semi_sync_master_no_tx"),
        slave_on=v.get("Rpl_semi_sync_slave_status") == "ON",
    )
