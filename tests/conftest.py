from __future__ import annotations

from pathlib import Path

import pytest

from hapair.spec import ClusterSpec, load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def m2l_text() -> str:
    return (EXAMPLES / "m2l.toml").read_text()


@pytest.fixture(scope="session")
def m2l() -> ClusterSpec:
    return load_spec(EXAMPLES / "m2l.toml").spec


@pytest.fixture(scope="session")
def lab_m2l() -> ClusterSpec:
    return load_spec(EXAMPLES / "lab-m2l.toml").spec


@pytest.fixture(scope="session")
def lab() -> ClusterSpec:
    return load_spec(EXAMPLES / "lab-pair.toml").spec


@pytest.fixture(scope="session")
def m2l_three(m2l: ClusterSpec) -> ClusterSpec:
    """The guide's cluster with a third node of lowest priority: what the
    model takes and validate refuses for now (docs/three-nodes.md), for the
    renderers that already serve N nodes."""
    third = m2l.nodes[1].model_copy(update={
        "name": "node3", "ssh": "10.54.0.12", "interconnect": "192.168.57.104",
        "public": "10.54.0.12", "priority": 50, "server_id": 3})
    return ClusterSpec.model_validate({**m2l.model_dump(), "nodes": (*m2l.nodes, third)})
