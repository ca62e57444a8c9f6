"""MariaDB probes: the server's role and replication state, users, schemas.

One probe, two transports: the agent runs the queries over PyMySQL and
``apply`` runs them through the ``mariadb`` client over SSH (``state_command``);
both hand the answers, by column name, to the same parsers, so both see the
same ``MariaDBState``. Raw server words ("Yes", error numbers) are turned into
types here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

META_SCHEMA = "hapair"

# The server's variables: name in the state -> SQL expression.
VARIABLES = {
    "read_only": "@@read_only",
    "server_id": "@@server_id",
    "gtid_binlog_pos": "@@gtid_binlog_pos",
    "gtid_slave_pos": "@@gtid_slave_pos",
    "gtid_current_pos": "@@gtid_current_pos",
    "semi_sync_master": "@@rpl_semi_sync_master_enabled",
    "semi_sync_slave": "@@rpl_semi_sync_slave_enabled",
}
VARIABLES_SQL = "SELECT " + ", ".join(f"{expr} AS {name}" for name, expr in VARIABLES.items())
SLAVE_SQL = "SHOW SLAVE STATUS"
SEMI_SYNC_SQL = "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%%'"  # PyMySQL's % escaping
# The promotion epoch (hapair's own record, replicated with the data).
# How long ago the epoch last changed (the last promotion), by the database's
# own clock: the agents' anti-flap window, and the drills' wait for it.
EPOCH_AGE = "TIMESTAMPDIFF(MICROSECOND, changed_at, NOW(3)) / 1000000"
EPOCH_SQL = (f"SELECT epoch, primary_node, {EPOCH_AGE} AS age "  # noqa: S608
             f"FROM {META_SCHEMA}.epoch WHERE id = 1")

# The same, as "key<TAB>value" lines for the command-line client; SHOW SLAVE
# STATUS\G follows a "--slave--" line.
STATE_SQL = " UNION ALL ".join(
    [f"SELECT '{name}', {expr}" for name, expr in VARIABLES.items()]
    + ["SELECT CONCAT('status.', variable_name), variable_value FROM "
       "information_schema.GLOBAL_STATUS WHERE variable_name LIKE 'RPL_SEMI_SYNC%'",
       "SELECT 'user', CONCAT(user, '@', host) FROM mysql.user",
       # Accounts that may log in without TLS (ssl_type empty).
       "SELECT 'plain', CONCAT(user, '@', host) FROM mysql.user WHERE ssl_type = ''",
       # Accounts that may change a schema's tables (the application's must not).
       "SELECT 'ddl', CONCAT(user, '@', host, ' ', db) FROM mysql.db WHERE 'Y' IN "
       "(Create_priv, Drop_priv, Alter_priv, Index_priv, References_priv)",
       # Accounts that may make a schema's triggers (the agent's: its write gate).
       "SELECT 'trigger', CONCAT(user, '@', host, ' ', db) FROM mysql.db WHERE Trigger_priv = 'Y'",
       "SELECT 'schema', schema_name FROM information_schema.schemata"])
EPOCH_LINE_SQL = (f"SELECT 'epoch', CONCAT_WS(' ', epoch, primary_node, {EPOCH_AGE}) "  # noqa: S608
                  f"FROM {META_SCHEMA}.epoch WHERE id = 1")

# Last_IO_Errno when the source no longer has the binary logs we need (or
# holds a divergent history): replication cannot go on, only a rebuild.
ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236


def state_command(client: str = "mariadb") -> str:
    return (
        f'{client} -N -B -e "{STATE_SQL}" 2>&1 || echo "--down--"; '
        f'{client} -N -B -e "{EPOCH_LINE_SQL}" 2>/dev/null || true; '
        f"echo --slave--; {client} -e 'SHOW SLAVE STATUS\\G' 2>/dev/null || true"
    )


class Thread(StrEnum):
    """A replication thread's state as SHOW SLAVE STATUS says it."""

    RUNNING = "Yes"
    CONNECTING = "Connecting"  # the receiving thread, looking for its source
    STOPPED = "No"
    NONE = ""  # not a replica

    @classmethod
    def parse(cls, raw: str) -> Thread:
        try:
            return cls(raw)
        except ValueError:
            return cls.NONE


@dataclass(frozen=True)
class SlaveStatus:
    io: Thread = Thread.NONE
    sql: Thread = Thread.NONE
    master_host: str = ""
    master_port: int = 0
    using_gtid: str = ""
    last_io_error: str = ""
    last_sql_error: str = ""
    seconds_behind: int | None = None
    gtid_io_pos: str = ""
    io_errno: int = 0
    sql_errno: int = 0
    ssl: bool = False  # the replication connection is configured for TLS

    @property
    def configured(self) -> bool:
        return bool(self.master_host)

    @property
    def io_running(self) -> bool:
        return self.io is Thread.RUNNING

    @property
    def stopped(self) -> bool:
        """A thread stopped (by error or by hand), not merely reconnecting."""
        return Thread.STOPPED in (self.io, self.sql)

    @property
    def broken(self) -> str:
        """Why replication from this source cannot go on ("" if it can)."""
        if self.io_errno == ER_MASTER_FATAL_ERROR_READING_BINLOG:
            return self.last_io_error or "the source lacks the binary logs needed"
        if self.sql_errno:
            return self.last_sql_error or f"SQL error {self.sql_errno}"
        return ""


@dataclass(frozen=True)
class SemiSync:
    """What semi-sync is doing now (not what it is configured to do)."""

    master_on: bool = False  # a primary waiting for acknowledgements (OFF: it went async)
    master_clients: int = 0  # replicas connected as semi-sync
    waiting_sessions: int = 0  # commits waiting for an acknowledgement right now
    no_tx: int = 0  # commits that were not acknowledged (async fall-back)
    slave_on: bool = False


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
    ddl: frozenset[str] = field(default_factory=frozenset)  # "user@host schema"
    trigger: frozenset[str] = field(default_factory=frozenset)  # "user@host schema"
    plain: frozenset[str] = field(default_factory=frozenset)  # accounts not requiring TLS
    slave: SlaveStatus = SlaveStatus()
    semi: SemiSync = SemiSync()
    epoch: int = 0  # hapair's promotion epoch, 0 before apply made the table
    epoch_primary: str = ""
    epoch_age_s: float = 1e9  # since the last promotion, by the database's clock

    @property
    def writable(self) -> bool:
        return self.up and not self.read_only


def _int(raw: object) -> int:
    text = str(raw if raw is not None else "")
    return int(text) if text.isdigit() else 0


def _flag(raw: object) -> bool:
    return str(raw).strip().upper() in ("1", "ON")


def slave_status(row: Mapping[str, object]) -> SlaveStatus:
    """One row of SHOW SLAVE STATUS, by column name (the client's or a driver's)."""
    values = {k: "" if v is None else str(v) for k, v in row.items()}
    behind = values.get("Seconds_Behind_Master", "")
    return SlaveStatus(
        io=Thread.parse(values.get("Slave_IO_Running", "")),
        sql=Thread.parse(values.get("Slave_SQL_Running", "")),
        master_host=values.get("Master_Host", ""),
        master_port=_int(values.get("Master_Port")),
        using_gtid=values.get("Using_Gtid", ""),
        last_io_error=values.get("Last_IO_Error", ""),
        last_sql_error=values.get("Last_SQL_Error", ""),
        seconds_behind=int(behind) if behind.isdigit() else None,
        gtid_io_pos=values.get("Gtid_IO_Pos", ""),
        io_errno=_int(values.get("Last_IO_Errno")),
        sql_errno=_int(values.get("Last_SQL_Errno")),
        ssl=values.get("Master_SSL_Allowed", "") == "Yes",
    )


def parse_slave_status(text: str) -> SlaveStatus:
    """SHOW SLAVE STATUS\\G: "   Key: value" lines; empty when not a replica."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and not key.startswith("*"):
            values[key.strip()] = value.strip()
    return slave_status(values)


def semi_sync(v: Mapping[str, str]) -> SemiSync:
    """The Rpl_semi_sync% status variables, by name (any letter case)."""
    up = {k.upper(): str(val) for k, val in v.items()}

    def num(key: str) -> int:
        return _int(up.get(key.upper()))

    return SemiSync(
        master_on=up.get("RPL_SEMI_SYNC_MASTER_STATUS", "").upper() == "ON",
        master_clients=num("Rpl_semi_sync_master_clients"),
        waiting_sessions=num("Rpl_semi_sync_master_wait_sessions"),
        no_tx=num("Rpl_semi_sync_master_no_tx"),
        slave_on=up.get("RPL_SEMI_SYNC_SLAVE_STATUS", "").upper() == "ON",
    )


def from_answers(variables: Mapping[str, object], slave: SlaveStatus, semi: SemiSync,
                 epoch: Mapping[str, object],
                 users: frozenset[str] = frozenset(),
                 schemas: frozenset[str] = frozenset(),
                 ddl: frozenset[str] = frozenset(),
                 plain: frozenset[str] = frozenset(),
                 trigger: frozenset[str] = frozenset()) -> MariaDBState:
    """The state from the probe's answers: VARIABLES by name, the parsed
    replication and semi-sync status, the epoch row (empty where none)."""
    age = epoch.get("age")
    return MariaDBState(
        up=True,
        read_only=_flag(variables.get("read_only", "1")),
        server_id=_int(variables.get("server_id")),
        gtid_binlog_pos=str(variables.get("gtid_binlog_pos") or ""),
        gtid_slave_pos=str(variables.get("gtid_slave_pos") or ""),
        gtid_current_pos=str(variables.get("gtid_current_pos") or ""),
        semi_sync_master=_flag(variables.get("semi_sync_master", "0")),
        semi_sync_slave=_flag(variables.get("semi_sync_slave", "0")),
        users=users, schemas=schemas, ddl=ddl, plain=plain, trigger=trigger,
        slave=slave,
        semi=semi,
        epoch=_int(epoch.get("epoch")),
        epoch_primary=str(epoch.get("primary_node") or ""),
        epoch_age_s=float(str(age)) if age is not None and str(age) != "" else 1e9,
    )


def parse_state(output: str) -> MariaDBState:
    """What ``state_command`` printed."""
    head, _, slave_text = output.partition("--slave--")
    if "--down--" in head:
        said = [line for line in head.splitlines() if line and line != "--down--"]
        return MariaDBState(up=False, error=" ".join(said)[:300])
    values: dict[str, str] = {}
    status: dict[str, str] = {}
    epoch: dict[str, str] = {}
    sets: dict[str, set[str]] = {k: set() for k in ("user", "schema", "ddl", "plain", "trigger")}
    for line in head.splitlines():
        key, sep, value = line.partition("\t")
        if not sep:
            continue
        if key in sets:
            sets[key].add(value)
        elif key.startswith("status."):
            status[key.removeprefix("status.")] = value
        elif key == "epoch":
            parts = value.split(" ")
            epoch = dict(zip(("epoch", "primary_node", "age"), parts, strict=False))
        else:
            values[key] = value
    return from_answers(values, parse_slave_status(slave_text), semi_sync(status), epoch,
                        frozenset(sets["user"]), frozenset(sets["schema"]),
                        frozenset(sets["ddl"]), frozenset(sets["plain"]),
                        frozenset(sets["trigger"]))


def globals_command(names: tuple[str, ...], client: str = "mariadb") -> str:
    """The running server's values of some global variables (plain names only)."""
    for n in names:
        if not n.replace("_", "").isalnum():
            raise ValueError(f"not a variable name: {n!r}")
    listed = ", ".join(f"'{n.upper()}'" for n in names)
    # Names checked above: plain words, nothing else reaches the query.
    return (f'{client} -N -B -e "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM '  # noqa: S608
            f'information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME IN ({listed})" '
            "2>/dev/null || true")


def parse_globals(output: str) -> dict[str, str]:
    """{name in lower case: value} from globals_command's tab-separated rows;
    {} when the server did not answer."""
    out = {}
    for line in output.splitlines():
        name, tab, value = line.partition("\t")
        if tab and name and name.replace("_", "").isalnum():
            out[name.lower()] = value
    return out
