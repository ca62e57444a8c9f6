"""Real servers for tests and benchmarks: a private MariaDB, roombook under
gunicorn. Each is a context manager that cleans up after itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} within {seconds:g}s")
        time.sleep(0.1)


@dataclass(frozen=True)
class MariaDB:
    port: int
    socket: Path

    def url(self, database: str = "roombook") -> str:
        return f"mysql+pymysql://rb:rb-password-1@127.0.0.1:{self.port}/{database}"

    def root(self, sql: str) -> str:
        r = subprocess.run(["mariadb", f"--socket={self.socket}", "-N", "-B", "-e", sql],
                           capture_output=True, text=True, check=True)
        return r.stdout


@contextmanager
def mariadb(base: Path, databases: tuple[str, ...] = ("roombook",),
            durable: bool = False) -> Iterator[MariaDB]:
    """A MariaDB server on 127.0.0.1 with an application account 'rb' that has
    no SUPER (so read_only binds it, as in the cluster)."""
    data, sock, port = base / "data", base / "mysql.sock", free_port()
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=socket"], check=True,
                   capture_output=True)
    flush = "1" if durable else "2"
    proc = subprocess.Popen(
        ["mariadbd", "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", "--user=root", f"--pid-file={base}/pid",
         f"--log-error={base}/error.log", f"--innodb-flush-log-at-trx-commit={flush}",
         "--max-connections=400", "--skip-name-resolve"])
    try:
        wait_port(port, proc, "mariadbd")
        server = MariaDB(port, sock)
        for database in databases:
            server.root(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        server.root("CREATE USER 'rb'@'127.0.0.1' IDENTIFIED BY 'rb-password-1'")
        server.root("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, "
                    "REFERENCES ON `roombook%`.* TO 'rb'@'127.0.0.1'")
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=60)


@contextmanager
def gunicorn(database_url: str, upload_dir: Path, workers: int = 4,
             threads: int = 8, source: Path | None = None) -> Iterator[str]:
    """roombook under gunicorn (gthread); yields its base URL. source: another
    roombook source tree to serve instead of the installed one."""
    port = free_port()
    env = {**os.environ, "ROOMBOOK_DATABASE_URL": database_url,
           "ROOMBOOK_SECRET_KEY": "s" * 32, "ROOMBOOK_UPLOAD_DIR": str(upload_dir)}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread",
         "--threads", str(threads), "-b", f"127.0.0.1:{port}", "roombook.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc, "gunicorn")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
