from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hapair.secrets import CORE, SecretsError, load_secrets, new_secrets_file


def make(tmp_path: Path) -> Path:
    path = tmp_path / "s.toml"
    new_secrets_file(path)
    return path


def test_values_are_masked_everywhere(tmp_path: Path) -> None:
    s = load_secrets(make(tmp_path), environ={})
    raw = s.db_app_password.get_secret_value()
    for shown in (str(s), repr(s), s.model_dump_json(), f"{s.db_app_password}"):
        assert raw not in shown


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    s = load_secrets(make(tmp_path), environ={"HAPAIR_API_TOKEN": "t" * 30})
    assert s.api_token.get_secret_value() == "t" * 30


def test_environment_alone_is_enough() -> None:
    env = {f"HAPAIR_{n.upper()}": "v" * 30 for n in CORE}
    assert load_secrets(None, environ=env).app_secret_key.get_secret_value() == "v" * 30


def test_a_readable_file_is_refused(tmp_path: Path) -> None:
    path = make(tmp_path)
    path.chmod(0o640)
    with pytest.raises(SecretsError, match="chmod 600"):
        load_secrets(path, environ={})


def test_errors_name_the_field_never_the_value(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('db_app_password = "tooshort"\n')
    path.chmod(0o600)
    with pytest.raises(SecretsError) as info:
        load_secrets(path, environ={})
    assert "db_app_password" in str(info.value)
    assert "tooshort" not in str(info.value)
    assert "api_token" in str(info.value)  # missing ones are named too


def test_a_witness_cluster_gets_a_ca_once(tmp_path: Path) -> None:
    from hapair import pki
    from hapair.secrets import add_ca

    path = tmp_path / "s.toml"
    new_secrets_file(path, ca_for="lab")
    ca = load_secrets(path, environ={}).pki
    assert ca is not None and "BEGIN CERTIFICATE" in ca.ca_cert
    assert ca.ca_key.get_secret_value() not in repr(ca)
    assert not add_ca(path, "lab")  # one CA: never replaced
    (tmp_path / "plain").mkdir()
    plain = make(tmp_path / "plain")
    assert load_secrets(plain, environ={}).pki is None
    assert add_ca(plain, "lab") and load_secrets(plain, environ={}).pki is not None
    assert oct(plain.stat().st_mode)[-3:] == "600"
    pair = pki.Pair(ca.ca_cert, ca.ca_key.get_secret_value())
    now = pki.dt.datetime.now(pki.dt.UTC)
    assert pki.unfit(pki.issue(pair, "w", (), now).cert, pair, "w", (), now) == ""


def test_an_old_ca_certificate_is_renewed_in_place(tmp_path: Path) -> None:
    import datetime as dt

    from hapair import pki
    from hapair.secrets import renew_ca_cert
    from tests.unit.test_pki import ca_without_key_id

    path = tmp_path / "s.toml"
    new_secrets_file(path, ca_for="lab")
    assert not renew_ca_cert(path)  # a CA made now has its key identifier
    loaded = load_secrets(path, environ={}).pki
    assert loaded is not None
    old = ca_without_key_id(dt.datetime.now(dt.UTC))
    text = path.read_text().replace(loaded.ca_cert.strip(), old.cert.strip())
    path.write_text(text.replace(loaded.ca_key.get_secret_value().strip(), old.key.strip()))
    before = path.read_text()
    assert renew_ca_cert(path)
    after = load_secrets(path, environ={}).pki
    assert after is not None and after.ca_key.get_secret_value().strip() == old.key.strip()
    assert not pki.lacks_key_id(pki.Pair(after.ca_cert, after.ca_key.get_secret_value()))
    assert oct(path.stat().st_mode)[-3:] == "600"
    # Only the certificate changed: the rest of the file is as it was.
    assert path.read_text().replace(after.ca_cert.strip(), "") == \
        before.replace(old.cert.strip(), "")


def test_the_agents_secrets_leave_its_environment() -> None:
    """What the agent takes is gone from the environment its children get."""
    import subprocess

    from hapair.secrets import take_env

    env = {"HAPAIR_API_TOKEN": "t0ken", "PATH": "/usr/bin:/bin", "HAPAIR_ETCD_PASSWORD": "e"}
    got = take_env(env, ("HAPAIR_API_TOKEN", "HAPAIR_ETCD_PASSWORD", "HAPAIR_PEER_FENCE_PASSWORD"))
    assert got == {"HAPAIR_API_TOKEN": "t0ken", "HAPAIR_ETCD_PASSWORD": "e"}
    assert env == {"PATH": "/usr/bin:/bin"}
    child = subprocess.run(["env"], env=env, capture_output=True, text=True, check=True).stdout
    assert "t0ken" not in child


@given(st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True),
                       st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                      blacklist_characters="\n\r\x00"),
                               max_size=40)))
def test_the_agents_credential_reads_back_what_apply_wrote(values: dict[str, str]) -> None:
    """The file apply writes (render.appenv.env_file) and the agent's reading
    of it under $CREDENTIALS_DIRECTORY are one another's inverse."""
    from hapair.render.appenv import env_file
    from hapair.secrets import parse_env_file

    assert parse_env_file(env_file(values)) == values


def test_the_agent_takes_its_secrets_from_its_credential(tmp_path: Path) -> None:
    from hapair.render.appenv import env_file
    from hapair.secrets import agent_credentials

    (tmp_path / "agent-secrets").write_text(env_file({"HAPAIR_API_TOKEN": 'a"$b`c\\d'}))
    assert agent_credentials({"CREDENTIALS_DIRECTORY": str(tmp_path)}) == {
        "HAPAIR_API_TOKEN": 'a"$b`c\\d'}
    assert agent_credentials({}) == {}
