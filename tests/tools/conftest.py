from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """examples rendered once: {"m2l": dir with one folder a node, ...}"""
    out = {}
    for name in EXAMPLE_NAMES:
        root = tmp_path_factory.mktemp(f"render-{name}")
        for node, files in render_cluster(load_spec(EXAMPLES / f"{name}.toml").spec).items():
            write_tree(root / node, files)
        out[name] = root
    return out
