"""The backup's commit block on a real mariadbd (agent/node/backup_stream.py).

A commit waiting for a semi-sync acknowledgement that does not come (the
standby gone, before the primary has said so) holds `BACKUP STAGE
BLOCK_COMMIT` back; while that waits, every later commit of the server
waits behind it, the agent's own never-binlogged lease row included (seen
in the lab: 7 minutes of a primary that committed nothing). The watch kills
a BLOCK_COMMIT that waits over its bound, and the commits flow again."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hapair.agent.node import backup_stream
from hapair.agent.node.db import Database, DBError, Endpoint
from tests.tools.conftest import mariadbd

CNF = """[mysqld]
server-id = 1
log-bin = {tmp}/binlog
rpl_semi_sync_master_enabled = ON
rpl_semi_sync_master_wait_no_slave = ON
rpl_semi_sync_master_timeout = 600000
"""


class Proc:
    """Stands for mariadb-backup: killed or not."""

    killed = False

    def kill(self) -> None:
        self.killed = True


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    cnf = tmp_path / "my.cnf"
    cnf.write_text(CNF.format(tmp=tmp_path))
    with mariadbd(cnf, tmp_path / "run") as sock:
        db = Database(Endpoint("root", "", socket=str(sock)))
        db.execute("SET STATEMENT sql_log_bin = 0 FOR CREATE DATABASE t")
        db.execute("SET STATEMENT sql_log_bin = 0 FOR "
                   "CREATE TABLE t.a (x INT PRIMARY KEY) ENGINE=InnoDB")
        yield sock, db
        db.close()


def client(sock: Path, sql: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["mariadb", "-S", str(sock), "-e", sql], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def local_write(db: Database, x: int, timeout: float) -> float:
    """A never-binlogged commit (as the lease row's): how long it took."""
    start = time.monotonic()
    db.execute("SET STATEMENT sql_log_bin = 0 FOR INSERT INTO t.a VALUES (%s)", (x,),
               timeout=timeout)
    return time.monotonic() - start


def test_a_waiting_block_commit_is_killed_and_commits_flow_again(
        server: tuple[Path, Database]) -> None:
    sock, db = server
    stuck = client(sock, "INSERT INTO t.a VALUES (1)")  # waits for an ACK that never comes
    time.sleep(0.5)
    backup = client(sock, "BACKUP STAGE START; BACKUP STAGE FLUSH; BACKUP STAGE BLOCK_DDL; "
                          "BACKUP STAGE BLOCK_COMMIT")
    time.sleep(0.3)
    # Behind the waiting BLOCK_COMMIT, a local commit waits too: the stall itself.
    with pytest.raises(DBError, match="timed out"):
        local_write(Database(Endpoint("root", "", socket=str(sock))), 2, timeout=0.5)
    proc, done = Proc(), threading.Event()
    began = time.monotonic()
    watch = threading.Thread(target=backup_stream.watch_block_commit,
                             args=(Database(Endpoint("root", "", socket=str(sock))), proc,
                                   done))
    watch.start()
    watch.join(timeout=10)
    took = time.monotonic() - began
    assert not watch.is_alive() and proc.killed, "the watch did not act"
    assert took < backup_stream.BLOCK_COMMIT_WAIT_S + 1.0, took
    assert backup.wait(timeout=10) != 0 and "interrupted" in backup.communicate()[1].lower()
    assert local_write(db, 3, timeout=5) < 1.0  # commits flow again
    stuck.kill()
    done.set()
