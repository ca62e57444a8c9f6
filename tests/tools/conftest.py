from __future__ import annotations

import datetime as dt
import os
import shutil
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
