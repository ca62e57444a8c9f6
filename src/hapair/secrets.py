"""Secrets: from a file only root can read, or from the environment.

Never from the spec; never printed: every value is a pydantic SecretStr, whose
str() and repr() are masked, so a secret cannot slip into a log line or error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets as _random
import stat
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from hapair.paths import AGENT_CREDENTIAL

ENV_PREFIX = "HAPAIR_"
MIN_TOKEN = 24


class ClusterCA(BaseModel):
    """The witness's etcd: the cluster's certificate authority (PEM text) and
    the passwords of etcd's root and of the agents' user."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_cert: str = Field(min_length=100)
    ca_key: SecretStr = Field(min_length=100)
    etcd_root_password: SecretStr = Field(min_length=16)
    etcd_agent_password: SecretStr = Field(min_length=16)


class Secrets(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    db_admin_password: SecretStr = Field(min_length=12)
    db_replication_password: SecretStr = Field(min_length=12)
    db_app_password: SecretStr = Field(min_length=12)
    api_token: SecretStr = Field(min_length=MIN_TOKEN)
    app_secret_key: SecretStr = Field(min_length=24)
    # The application's own secrets (spec: web.secrets), by environment name.
    app: dict[str, SecretStr] = Field(default_factory=dict)
    # A fence device's password per node (the BMC's, the hypervisor's).
    fence_passwords: dict[str, SecretStr] = Field(default_factory=dict)
    # The key that signs the alerts' webhook posts (X-Hapair-Signature).
    webhook_secret: SecretStr | None = Field(default=None, min_length=24)
    # The cluster CA (the agents' TLS, the witness's etcd): made with the secrets.
    pki: ClusterCA | None = None

    @property
    def db_migration_password(self) -> SecretStr:
        """The migration account's password, derived from the admin one (no
        new line in existing secrets files; the admin account can do more)."""
        admin = self.db_admin_password.get_secret_value().encode()
        return SecretStr(hmac.new(admin, b"hapair migration account",
                                  hashlib.sha256).hexdigest()[:32])

    def missing_app_secrets(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if n not in self.app]


OPTIONAL = ("app", "fence_passwords", "webhook_secret", "pki")
CORE = tuple(n for n in Secrets.model_fields if n not in OPTIONAL)


class SecretsError(Exception):
    pass


def _read_file(path: Path) -> dict[str, object]:
    try:
        st = path.stat()
    except OSError as exc:
        raise SecretsError(f"{path}: cannot read the secrets file: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path}: mode {stat.S_IMODE(st.st_mode):o} lets others read it; "
            f"run: chmod 600 {path}"
        )
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SecretsError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SecretsError(f"{path}: not UTF-8 text") from None


def load_secrets(path: Path | None, environ: Mapping[str, str] | None = None) -> Secrets:
    """Values from the file, each overridable by HAPAIR_<NAME> in the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {} if path is None else _read_file(path)
    for name in CORE:
        if f"{ENV_PREFIX}{name.upper()}" in environ:
            values[name] = environ[f"{ENV_PREFIX}{name.upper()}"]
    try:
        return Secrets.model_validate(values)
    except ValidationError as exc:
        # The messages name fields only: pydantic's input echo is left out.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        )
        raise SecretsError(f"{path or 'environment'}: {problems}") from None


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as render.appenv.env_file writes them (pure): a value
    bare, or in double quotes with a backslash before \\ " $ `."""
    values: dict[str, str] = {}
    for line in text.split("\n"):  # only \n ends a line (a value may hold \f)
        key, eq, value = line.partition("=")
        if not eq or line.lstrip().startswith("#"):
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            inner, out, i = value[1:-1], [], 0
            while i < len(inner):
                if inner[i] == "\\" and i + 1 < len(inner) and inner[i + 1] in '\\"$`':
                    i += 1
                out.append(inner[i])
                i += 1
            value = "".join(out)
        values[key.strip()] = value
    return values


def agent_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The agent's secrets as systemd hands them over (LoadCredential: a file
    in a directory only the unit's user reads, never in the environment that
    children inherit); {} when the unit gives none."""
    where = environ.get("CREDENTIALS_DIRECTORY")
    if not where:
        return {}
    path = Path(where) / AGENT_CREDENTIAL
    return parse_env_file(path.read_text(encoding="utf-8")) if path.exists() else {}


def take_env(environ: MutableMapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The named variables, removed from environ (os.environ: from every
    child started after this too): a secret read once is kept in memory, not
    handed to each hook, fence agent and client the process starts."""
    return {n: environ.pop(n) for n in names if n in environ}


def read_token(api_token: str) -> str:
    """The read-only credential of the agents' API, derived from the admin
    token: it reads /status in full (the agents' polls of each other, the
    operator's status) and changes nothing. Whoever holds it cannot work the
    admin token out of it."""
    return hmac.new(api_token.encode(), b"hapair read-only credential",
                    hashlib.sha256).hexdigest()


def peer_token(api_token: str) -> str:
    """The agents' own credential for polling each other: it reads /status
    as the read-only one does, and only a poll that carries it (from the
    peer's address, naming the peer) counts as the peer's sign of life.
    Never handed to anyone: a monitoring host holding the read-only
    credential that replayed a poll "as the primary" kept a dead primary
    alive in its standby's eyes, and no failover came."""
    return hmac.new(api_token.encode(), b"hapair peer credential", hashlib.sha256).hexdigest()


def load_ca_cert(path: Path | None) -> str:
    """The cluster CA's certificate (PEM) from the secrets file: what the
    operator's commands check the agents' TLS certificates against."""
    found = _read_file(path).get("pki") if path is not None else None
    cert = found.get("ca_cert") if isinstance(found, dict) else None
    if not isinstance(cert, str) or "BEGIN CERTIFICATE" not in cert:
        where = f"{path} has no [pki] ca_cert" if path else "no secrets file given"
        raise SecretsError(f"{where}: the agents' API is TLS from the cluster CA; pass "
                           "--secrets FILE, or add the CA with `hapair secrets ca FILE SPEC`")
    return cert


def load_api_token(path: Path | None, environ: Mapping[str, str] | None = None) -> str:
    """Only the agents' API token: what the operator's commands need
    (HAPAIR_API_TOKEN, or the file's api_token)."""
    environ = os.environ if environ is None else environ
    token = environ.get(f"{ENV_PREFIX}API_TOKEN")
    if token is None and path is not None:
        found = _read_file(path).get("api_token")
        token = found if isinstance(found, str) else None
    if token is None or len(token) < MIN_TOKEN:
        where = f"{path} has no api_token" if path else "no secrets file given"
        raise SecretsError(f"{where}: pass --secrets FILE (the file `hapair secrets new` "
                           f"wrote for this cluster) or set {ENV_PREFIX}API_TOKEN")
    return token


def new_secrets_file(path: Path, app_names: tuple[str, ...] = (),
                     fence_nodes: tuple[str, ...] = (), ca_for: str = "") -> None:
    """Write fresh random secrets, readable by the owner only; never overwrite.
    Fence passwords are the devices' own: a placeholder the operator replaces
    (the lab sets its simulated devices up with them)."""
    lines = [
        "# hapair secrets: keep this file mode 0600, out of version control.\n"
    ]
    for name in (*CORE, "webhook_secret"):
        lines.append(f'{name} = "{_random.token_urlsafe(32)}"\n')
    if app_names:
        lines.append("\n[app]\n")
        lines += [f'{name} = "{_random.token_urlsafe(18)}"\n' for name in app_names]
    if fence_nodes:
        lines.append("\n# each node's fence device password (its BMC's, its hypervisor's)\n")
        lines.append("[fence_passwords]\n")
        # IPMI passwords are at most 20 bytes (16 for IPMI 1.5): 16 characters.
        lines += [f'{name} = "{_random.token_urlsafe(12)}"\n' for name in fence_nodes]
    if ca_for:
        lines += ca_lines(ca_for)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(lines)


def ca_lines(cluster: str) -> list[str]:
    """A fresh cluster CA as the secrets file's [pki] table."""
    from hapair import pki  # the control side only: the nodes do without cryptography

    ca = pki.new_ca(cluster, dt.datetime.now(dt.UTC))
    return ["\n# the cluster's certificate authority (the agents' API, the witness's etcd), "
            "etcd's passwords\n",
            "[pki]\n",
            f'ca_cert = """\n{ca.cert}"""\n', f'ca_key = """\n{ca.key}"""\n',
            f'etcd_root_password = "{_random.token_urlsafe(24)}"\n',
            f'etcd_agent_password = "{_random.token_urlsafe(24)}"\n']


def add_ca(path: Path, cluster: str) -> bool:
    """Append a cluster CA to an existing secrets file that has none (False if
    it has one). The file keeps its mode; nothing else in it changes."""
    if load_secrets(path, environ={}).pki is not None:
        return False
    with path.open("a", encoding="utf-8") as f:
        f.writelines(ca_lines(cluster))
    return True


def renew_ca_cert(path: Path) -> bool:
    """Give the file's CA certificate a Subject Key Identifier if it has none
    (see pki.lacks_key_id): the same key, every issued certificate still
    valid. False when there was nothing to do. Only that value changes."""
    from hapair import pki

    loaded = load_secrets(path, environ={}).pki
    if loaded is None:
        raise SecretsError(f"{path} has no [pki] table: `hapair secrets ca` adds one")
    ca = pki.Pair(loaded.ca_cert, loaded.ca_key.get_secret_value())
    if not pki.lacks_key_id(ca):
        return False
    text = path.read_text(encoding="utf-8")
    old = ca.cert.strip()
    if text.count(old) != 1:
        raise SecretsError(f"{path}: the CA certificate is not written as one block; "
                           "nothing was changed")
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text.replace(old, pki.with_key_id(ca).cert.strip()))
    os.replace(tmp, path)
    return True
