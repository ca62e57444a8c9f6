"""The witness in a lab of its own (examples/lab-witness.toml): a third
machine running only etcd. Runs last, on a lab brought up here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.lab.conftest import Lab, running, scenarios

WITNESSED = EXAMPLES / "lab-witness.toml"


@pytest.fixture(scope="module")
def wlab() -> Iterator[Lab]:
    with running(WITNESSED) as handle:
        yield handle


def test_the_primary_holds_the_leader_key_and_names_its_standby(wlab: Lab) -> None:
    r = wlab.hapair("status", str(wlab.spec), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    nodes = {n["node"]: n for n in json.loads(r.stdout)["nodes"]}
    primary = next(name for name, n in nodes.items() if not n["read_only"])
    standby = next(name for name in nodes if name != primary)
    for n in nodes.values():
        assert n["witness"] and n["witness_ok"], n
        assert (n["witness_leader"], n["witness_complete"]) == (primary, standby), n
    text = wlab.hapair("status", str(wlab.spec))
    assert f"leader key: {primary}" in text.stdout


def test_etcd_refuses_clients_without_a_token_and_plain_http(wlab: Lab) -> None:
    curl = ("curl -s -o /dev/null -w '%{http_code}' --cacert /etc/hapair/etcd/ca.crt "
            "--cert /etc/hapair/etcd/agent.crt --key /etc/hapair/etcd/agent.key -X POST "
            "-d '{\"key\":\"Lw==\"}' https://127.0.0.1:2379/v3/kv/range")
    assert wlab.sh("node1", curl) in ("400", "401")  # a valid certificate without a token: refused
    plain = wlab.exec("witness", "sh", "-c", "curl -s --max-time 3 http://127.0.0.1:2379/version")
    assert plain.returncode != 0 or "etcdserver" not in plain.stdout  # TLS only


def test_the_witness_drills(wlab: Lab, tmp_path: Path) -> None:
    """Once each: nothing lost, nothing doubled, never two writable nodes."""
    names = ("power-cut-standby", "partition", "isolate-primary", "power-cut-primary",
             "power-cut-witness", "witness-then-standby")
    summary = wlab.drills(tmp_path, *scenarios(*names))
    assert {row["scenario"] for row in summary} == set(names)
