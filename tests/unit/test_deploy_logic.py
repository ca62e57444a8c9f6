"""The pure parts of apply: roles, SQL, the application's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from hapair.deploy import sql
from hapair.deploy.roles import RoleError, choose_roles
from hapair.probes.mariadb import MariaDBState, SlaveStatus
from hapair.render.appenv import split_env
from hapair.secrets import Secrets
from hapair.spec import ClusterSpec

SECRETS = Secrets(
    db_admin_password="a" * 20, db_replication_password="r'pl\\x" * 3,  # type: ignore[arg-type]
    db_app_password="p" * 20, api_token="t" * 30, app_secret_key="k" * 30,  # type: ignore[arg-type]
)


def db(server_id: int, *, read_only: bool = True, master: str = "",
       schemas: frozenset[str] = frozenset()) -> MariaDBState:
    return MariaDBState(up=True, server_id=server_id, read_only=read_only,
                        schemas=schemas, slave=SlaveStatus(master_host=master))


MANAGED = frozenset({"hapair"})


def test_fresh_packages_make_a_new_cluster(lab: ClusterSpec) -> None:
    # Debian's fresh mariadb: writable, server_id 1 on both, no hapair schema.
    roles = choose_roles(lab, {"node1": db(1, read_only=False), "node2": db(1, read_only=False)})
    assert roles.fresh and roles.primary.name == "node1"


def test_nothing_installed_yet(lab: ClusterSpec) -> None:
    assert choose_roles(lab, {"node1": None, "node2": None}).fresh


def test_a_running_cluster_keeps_its_primary(lab: ClusterSpec) -> None:
    states = {"node1": db(1, master="192.168.57.103", schemas=MANAGED),
              "node2": db(2, read_only=False, schemas=MANAGED)}
    roles = choose_roles(lab, states)
    assert not roles.fresh and roles.primary.name == "node2" and roles.replica.name == "node1"


def test_the_replica_names_the_primary_when_none_is_writable(lab: ClusterSpec) -> None:
    states = {"node1": db(1, schemas=MANAGED), "node2": db(2, master="192.168.57.102")}
    assert choose_roles(lab, states).primary.name == "node1"


def test_two_writable_primaries_are_refused(lab: ClusterSpec) -> None:
    states = {"node1": db(1, read_only=False, schemas=MANAGED),
              "node2": db(2, read_only=False, schemas=MANAGED)}
    with pytest.raises(RoleError, match="two writable primaries"):
        choose_roles(lab, states)


def test_a_managed_cluster_with_no_clue_is_refused(lab: ClusterSpec) -> None:
    with pytest.raises(RoleError, match="will not guess"):
        choose_roles(lab, {"node1": db(1, schemas=MANAGED), "node2": db(2)})


@pytest.mark.parametrize(("raw", "quoted"), [
    ("plain", "'plain'"), ("it's", "'it\\'s'"), ("back\\slash", "'back\\\\slash'"),
    ("nl\nx", "'nl\\nx'"), ("nul\0", "'nul\\0'"),
])
def test_literal_escapes(raw: str, quoted: str) -> None:
    assert sql.literal(raw) == quoted


def test_app_account_cannot_bypass_read_only(lab: ClusterSpec) -> None:
    app = [a for a in sql.accounts(lab) if a.user == "roombook"]
    assert {a.host for a in app} == {"localhost", "127.0.0.1"}
    for grant in (g for a in app for g in a.grants):
        assert "SUPER" not in grant and "READ_ONLY ADMIN" not in grant and "ALL" not in grant
        assert grant.endswith("ON `roombook`.*")
        # Data changes only: the tables are the migration account's to change.
        for ddl in ("CREATE,", "ALTER", "DROP", "INDEX", "REFERENCES"):
            assert ddl not in grant


def test_the_migration_account_changes_tables_but_not_read_only(lab: ClusterSpec) -> None:
    mig = [a for a in sql.accounts(lab) if a.user == "roombook_migrate"]
    assert {a.host for a in mig} == {"localhost", "127.0.0.1"}
    (grant,) = {g for a in mig for g in a.grants}
    assert "ALTER" in grant and "DROP" in grant and grant.endswith("ON `roombook`.*")
    assert "SUPER" not in grant and "READ_ONLY ADMIN" not in grant
    password = SECRETS.db_migration_password.get_secret_value()
    assert password == SECRETS.db_migration_password.get_secret_value()  # derived, stable
    assert password not in (SECRETS.db_admin_password.get_secret_value(),
                            SECRETS.db_app_password.get_secret_value())


def test_an_application_account_that_may_change_tables_loses_that(lab: ClusterSpec) -> None:
    present = frozenset(a.key for a in sql.accounts(lab))
    schemas = frozenset({"roombook", "hapair"})
    old = frozenset({"roombook@localhost roombook", "roombook_migrate@localhost roombook"})
    assert sql.bootstrap_sql(lab, SECRETS, present, schemas, old, trigger=gated(lab)) == [
        "REVOKE CREATE, ALTER, INDEX, DROP, REFERENCES ON `roombook`.* FROM "
        "'roombook'@'localhost'"]


def test_replication_accounts_only_from_node_addresses(lab: ClusterSpec) -> None:
    hosts = {a.host for a in sql.accounts(lab) if a.user == "repl"}
    assert hosts == {"192.168.57.102", "192.168.57.103", "10.54.0.10", "10.54.0.11"}


def test_accounts_used_across_the_networks_require_tls(lab: ClusterSpec) -> None:
    tls = {a.key for a in sql.accounts(lab) if a.tls}
    assert "repl@10.54.0.10" in tls and "hapair@192.168.57.103" in tls
    assert "hapair@localhost" not in tls and "roombook@127.0.0.1" not in tls
    every = sql.bootstrap_sql(lab, SECRETS, frozenset(), frozenset())
    assert any(s.startswith("CREATE USER IF NOT EXISTS 'repl'@'10.54.0.10'")
               and s.endswith(" REQUIRE SSL") for s in every)
    # An account made before, without the requirement, is given it.
    present = frozenset(a.key for a in sql.accounts(lab))
    again = sql.bootstrap_sql(lab, SECRETS, present, frozenset({"roombook", "hapair"}),
                              plain=frozenset({"repl@10.54.0.10", "hapair@localhost"}),
                              trigger=gated(lab))
    assert again == ["ALTER USER 'repl'@'10.54.0.10' REQUIRE SSL"]


def test_bootstrap_creates_only_what_is_missing(lab: ClusterSpec) -> None:
    every = sql.bootstrap_sql(lab, SECRETS, frozenset(), frozenset())
    assert any("CREATE DATABASE IF NOT EXISTS `roombook`" in s for s in every)
    assert any("CREATE TABLE IF NOT EXISTS `hapair`.epoch" in s for s in every)
    present = frozenset(a.key for a in sql.accounts(lab))
    assert sql.bootstrap_sql(lab, SECRETS, present, frozenset({"roombook", "hapair"}),
                             trigger=gated(lab)) == []


def gated(spec: ClusterSpec) -> frozenset[str]:
    """Every agent account may make the application schema's triggers."""
    return frozenset(f"{a.key} roombook" for a in sql.accounts(spec)
                     if a.user == spec.database.users.admin)


def test_an_agent_account_made_before_the_write_gate_is_given_triggers(
        lab: ClusterSpec) -> None:
    present = frozenset(a.key for a in sql.accounts(lab))
    one = next(iter(sorted(gated(lab))))
    again = sql.bootstrap_sql(lab, SECRETS, present, frozenset({"roombook", "hapair"}),
                              trigger=gated(lab) - {one})
    user, host = one.split(" ")[0].split("@")
    assert again == [f"GRANT TRIGGER ON `roombook`.* TO '{user}'@'{host}'"]
    every = sql.bootstrap_sql(lab, SECRETS, frozenset(), frozenset())
    assert f"GRANT TRIGGER ON `roombook`.* TO '{user}'@'{host}'" in every


def test_replication_password_is_escaped(lab: ClusterSpec) -> None:
    change = sql.replicate_from(lab, SECRETS, lab.nodes[0])[1]
    assert "MASTER_HOST='192.168.57.102'" in change and "MASTER_USE_GTID=slave_pos" in change
    assert "MASTER_PASSWORD='r\\'pl\\\\x" in change
    assert "MASTER_SSL=1, MASTER_SSL_CA='/etc/hapair/tls/ca.crt'" in change
    assert "MASTER_SSL_VERIFY_SERVER_CERT=1" in change


def test_app_env_keeps_secrets_apart(lab: ClusterSpec) -> None:
    plain, secret = split_env(lab, lab.nodes[1])
    assert plain["ROOMBOOK_UPLOAD_DIR"] == "/srv/static"
    assert plain["HAPAIR_NODE"] == "node2"
    assert set(secret) == {"ROOMBOOK_DATABASE_URL", "ROOMBOOK_SECRET_KEY"}
    assert "{db_password}" in secret["ROOMBOOK_DATABASE_URL"]


def test_open_primary_turns_semi_sync_on_before_writes(lab: ClusterSpec) -> None:
    statements = sql.open_primary(lab)
    assert statements[-1] == "SET GLOBAL read_only = OFF"
    assert "rpl_semi_sync_master_enabled = ON" in statements[0]


def test_wheel_fingerprint_follows_the_source(tmp_path: Path) -> None:
    from hapair.deploy.wheels import fingerprint

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    first = fingerprint([str(tmp_path), "gunicorn"])
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"junk")
    assert fingerprint([str(tmp_path), "gunicorn"]) == first  # caches do not count
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert fingerprint([str(tmp_path), "gunicorn"]) != first
    assert fingerprint([str(tmp_path)]) != fingerprint([str(tmp_path), "gunicorn"])


def test_the_wheel_archive_is_the_same_bytes_for_the_same_wheels(tmp_path: Path) -> None:
    import os
    import tarfile

    from hapair.deploy.wheels import archive, existing

    for name in ("b-1-py3-none-any.whl", "a-1-py3-none-any.whl"):
        (tmp_path / name).write_bytes(name.encode())
    first = archive(existing(tmp_path)).read_bytes()
    with tarfile.open(tmp_path / ".wheels.tar") as tar:
        assert tar.getnames() == ["a-1-py3-none-any.whl", "b-1-py3-none-any.whl"]
    (tmp_path / ".wheels.tar").unlink()
    os.utime(tmp_path / "a-1-py3-none-any.whl", (1e9, 1e9))
    assert archive(existing(tmp_path)).read_bytes() == first
    (tmp_path / "a-1-py3-none-any.whl").write_bytes(b"rebuilt")
    assert archive(existing(tmp_path)).read_bytes() != first  # a changed wheel: a new archive


def test_each_changed_file_calls_for_its_own_restart(lab: ClusterSpec) -> None:
    from hapair.deploy.steps import _key
    from hapair.render import render_node

    keys = {f.path: _key(f) for f in render_node(lab, lab.nodes[0])}
    assert keys["/etc/keepalived/keepalived.conf"] == ("keepalived",)
    assert keys["/etc/mysql/mariadb.conf.d/60-hapair.cnf"] == ("mariadb",)
    assert keys["/etc/systemd/system/hapair-app.service"] == ("units", "app")
    assert keys["/etc/systemd/system/hapair-agent.service"] == ("units", "agent")
    assert keys["/etc/systemd/system/srv-static.mount"] == ("units",)
    assert keys["/etc/hapair/app.env"] == ("app",)
    assert keys["/etc/hapair/cluster.json"] == ("agent",)
    assert keys["/etc/hapair/gluster-plan.json"] == ()


def test_the_agent_gets_the_webhook_secret_and_only_its_peer_s_fence_password(
        tmp_path: Path) -> None:
    from types import SimpleNamespace

    from hapair.deploy.steps import agent_secrets
    from hapair.paths import WEBHOOK_SECRET_ENV
    from hapair.secrets import load_secrets, new_secrets_file
    from hapair.spec import load_spec
    from tests.conftest import EXAMPLES

    spec = load_spec(EXAMPLES / "lab-fence.toml").spec
    path = tmp_path / "s.toml"
    new_secrets_file(path, fence_nodes=("node1", "node2"))
    secrets = load_secrets(path, environ={})
    env = agent_secrets(SimpleNamespace(spec=spec, secrets=secrets),  # type: ignore[arg-type]
                        spec.nodes[0])
    assert secrets.webhook_secret is not None
    assert f"{WEBHOOK_SECRET_ENV}={secrets.webhook_secret.get_secret_value()}" in env
    assert secrets.fence_passwords["node2"].get_secret_value() in env
    assert secrets.fence_passwords["node1"].get_secret_value() not in env


def test_the_agent_gets_the_etcd_agent_password_never_root_s(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from hapair.deploy.steps import agent_secrets
    from hapair.paths import ETCD_PASSWORD_ENV
    from hapair.secrets import load_secrets, new_secrets_file
    from hapair.spec import load_spec
    from tests.conftest import EXAMPLES

    spec = load_spec(EXAMPLES / "lab.toml").spec
    path = tmp_path / "s.toml"
    new_secrets_file(path, ca_for=spec.name)
    secrets = load_secrets(path, environ={})
    assert secrets.pki is not None
    env = agent_secrets(SimpleNamespace(spec=spec, secrets=secrets),  # type: ignore[arg-type]
                        spec.nodes[0])
    assert f"{ETCD_PASSWORD_ENV}={secrets.pki.etcd_agent_password.get_secret_value()}" in env
    assert secrets.pki.etcd_root_password.get_secret_value() not in env
    assert "PRIVATE KEY" not in env and "BEGIN CERTIFICATE" not in env


def test_setup_commands_run_with_the_migration_account(lab: ClusterSpec) -> None:
    from hapair.deploy import python_steps, steps
    from hapair.deploy.roles import Roles
    from hapair.paths import APP_MIGRATION_ENV, APP_SECRETS_ENV

    d = steps.Deployment(spec=lab, secrets=SECRETS, hosts={}, rendered={},
                         roles=Roles(lab.nodes[0], lab.nodes[1], True, ""),
                         wheels={})
    env = steps.migration_env(d, lab.nodes[0])
    password = SECRETS.db_migration_password.get_secret_value()
    assert env.startswith("ROOMBOOK_DATABASE_URL=")
    assert f"roombook_migrate:{password}@127.0.0.1:3306/roombook" in env
    assert "ROOMBOOK_UPLOAD_DIR" not in env  # only what names the account
    app = steps.app_secrets(d, lab.nodes[0])
    assert "roombook:" + "p" * 20 in app and "roombook_migrate" not in app
    command = python_steps.app_setup_command(lab)
    # The migration account's variables are read last: they win for setup.
    assert command.index(APP_SECRETS_ENV) < command.index(APP_MIGRATION_ENV) < command.index(
        "runuser")


def test_wheels_are_made_once_per_kind_of_python(lab: ClusterSpec) -> None:
    from hapair.deploy.runner import ApplyError, _wheels_per_node
    from hapair.probes.python import ProbeError, Target

    old, new = Target((3, 11), "x86_64", (2, 36)), Target((3, 13), "x86_64", (2, 41))

    class Host:
        def __init__(self, answer: Target | Exception) -> None:
            self.answer = answer

        def get_fact(self, fact: object) -> Target:
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    made: list[Target] = []

    def wheels(target: Target) -> tuple[None, str]:
        made.append(target)
        return (None, target.tag)

    said: list[str] = []
    hosts = {"node1": Host(new), "node2": Host(old)}
    got = _wheels_per_node(lab, hosts, wheels, said.append)
    assert got == {"node1": (None, new.tag), "node2": (None, old.tag)}
    assert made == [old, new]
    assert "python: node1 runs CPython 3.13 on x86_64 (glibc 2.41)" in said
    made.clear()
    assert _wheels_per_node(lab, {"node1": Host(old), "node2": Host(old)}, wheels,
                            said.append) == {"node1": (None, old.tag), "node2": (None, old.tag)}
    assert made == [old] and said[-1].startswith("python: node1, node2 run CPython 3.11")
    with pytest.raises(ApplyError, match="node2: cannot tell which Python it runs"):
        _wheels_per_node(lab, {"node1": Host(old), "node2": Host(ProbeError("no python3"))},
                         wheels, said.append)


def test_the_setup_note_is_the_primarys_only(lab: ClusterSpec, tmp_path: Path) -> None:
    """The schema replicates from the primary, where setup runs: a note left
    on the other node ran it again after the roll's switchover."""
    from hapair.deploy import python_steps, steps
    from hapair.deploy.roles import Roles
    from hapair.deploy.wheels import Wheelhouse

    house = Wheelhouse(tmp_path, ())
    d = steps.Deployment(spec=lab, secrets=SECRETS, hosts={}, rendered={},
                         roles=Roles(lab.nodes[1], lab.nodes[0], True, ""),
                         wheels={n.name: (house, None) for n in lab.nodes})
    venvs = python_steps.Venvs(d)
    keys = {n.name: venvs.of(n)["envs"][0].keys for n in lab.nodes}
    assert lab.web.setup and keys == {"node1": ("app",), "node2": ("app", "setup")}


def test_apply_never_trusts_a_host_key_on_first_contact(lab: ClusterSpec,
                                                          tmp_path: Path) -> None:
    """pyinfra's own default is accept-new: unless the operator asks for it,
    an unknown host key stops the apply before any secret is sent."""
    from hapair.deploy.runner import SshOptions, _inventory

    def policy(accept: bool) -> set[object]:
        inv = _inventory(lab, SshOptions(None, tmp_path / "known_hosts", accept))
        return {h.data.get("ssh_strict_host_key_checking") for h in inv}

    assert policy(False) == {"yes"}
    assert policy(True) == {"accept-new"}


def test_the_lab_knows_its_machines_host_keys_before_it_boots_them(lab: ClusterSpec,
                                                                   tmp_path: Path) -> None:
    """The lab's known_hosts comes from the keys it made for each machine."""
    from dataclasses import replace

    from hapair.lab import identity
    from hapair.lab.plan import machine_paths, plan_lab

    plan = replace(plan_lab(lab), state_dir=str(tmp_path))
    for i, machine in enumerate(plan.machines):
        p = machine_paths(plan, machine)
        p.base.mkdir(parents=True)
        p.host_keys.write_text(f"ssh-ed25519 AAAA{i} root@{machine.name}\n"
                               f"ecdsa-sha2-nistp256 BBBB{i} root@{machine.name}\n")
    assert identity.known_hosts(plan) == (
        "10.99.0.10 ssh-ed25519 AAAA0\n10.99.0.10 ecdsa-sha2-nistp256 BBBB0\n"
        "10.99.0.11 ssh-ed25519 AAAA1\n10.99.0.11 ecdsa-sha2-nistp256 BBBB1\n")
