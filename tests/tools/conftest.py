from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from hapair import paths, pki
from hapair.render import render_cluster, write_tree
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

EXAMPLE_NAMES = ("m2l", "lab")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/tools/" in str(item.fspath):
            item.add_marker(pytest.mark.tools)


@pytest.fixture(scope="session", autouse=True)
def _needs_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("the real-tool checks run as root (make test does)")
    missing = [t for t in ("keepalived", "apache2", "mariadbd", "netplan", "ifquery", "ip")
               if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]
    assert not missing, f"run `make install` first: missing {missing}"


def _tls_dir(root: Path) -> Path:
    """Real certificates from a cluster CA, under the names apply gives them
    (the tools check that the files a config names exist and load)."""
    now = dt.datetime.now(dt.UTC)
    ca = pki.new_ca("tools", now)
    host = pki.issue(ca, "node", ("127.0.0.1",), now)
    root.mkdir()
    (root / Path(paths.AGENT_CA).name).write_text(ca.cert)
    for cert, key in ((paths.DB_CERT, paths.DB_KEY), (paths.WEB_CERT, paths.WEB_KEY)):
        (root / Path(cert).name).write_text(host.cert)
        (root / Path(key).name).write_text(host.key)
        (root / Path(key).name).chmod(0o600)
    return root


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """examples rendered once: {"m2l": dir with one folder a node, ...}; the
    files name certificates in a folder of this test run instead of the
    nodes' own."""
    tls = _tls_dir(tmp_path_factory.mktemp("tls") / "tls")
    out = {}
    for name in EXAMPLE_NAMES:
        root = tmp_path_factory.mktemp(f"render-{name}")
        for node, files in render_cluster(load_spec(EXAMPLES / f"{name}.toml").spec).items():
            files = [replace(f, content=f.content.replace(paths.AGENT_TLS_DIR + "/", f"{tls}/"))
                     for f in files]
            write_tree(root / node, files)
        out[name] = root
    return out


@contextmanager
def mariadbd(cnf: Path, tmp_path: Path) -> Iterator[Path]:
    """A real mariadbd on a rendered config, in a sandbox of its own (a new
    data directory, no network); its socket. Its error log is tmp_path's."""
    data, sock = tmp_path / "data", tmp_path / "mysql.sock"
    subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                    "--auth-root-authentication-method=socket"], check=True,
                   capture_output=True, text=True)
    # --defaults-file must come first; the rest only moves it into the sandbox.
    server = subprocess.Popen(
        ["mariadbd", f"--defaults-file={cnf}", f"--datadir={data}", f"--socket={sock}",
         "--skip-networking", "--user=root", f"--pid-file={tmp_path}/pid",
         f"--log-error={tmp_path}/error.log"])
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert server.poll() is None, (tmp_path / "error.log").read_text()
            assert time.monotonic() < deadline, "mariadbd did not open its socket"
            time.sleep(0.1)
        yield sock
    finally:
        server.terminate()
        server.wait(timeout=60)
