"""The application's environment: plain values rendered, secret ones at apply."""

from __future__ import annotations

import string

from hapair.spec.models import ClusterSpec, Node

SECRET_FIELDS = {"db_password": "db_app_password", "secret_key": "app_secret_key"}


def plain_values(spec: ClusterSpec, node: Node) -> dict[str, str]:
    db = spec.database
    return {
        "db_host": "127.0.0.1",
        "db_port": str(db.port),
        "db_name": db.name,
        "db_user": db.users.app,
        "static_dir": spec.volume.mount_point,
        "node": node.name,
    }


def fields_of(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def is_secret(template: str) -> bool:
    return bool(fields_of(template) & SECRET_FIELDS.keys())


def split_env(spec: ClusterSpec, node: Node) -> tuple[dict[str, str], dict[str, str]]:
    """(plain variables filled in, secret-bearing templates left for apply)."""
    values = plain_values(spec, node)
    plain = {"HAPAIR_NODE": node.name, "HAPAIR_STATIC_DIR": spec.volume.mount_point}
    secret: dict[str, str] = {}
    for name, template in spec.web.env.items():
        if is_secret(template):
            secret[name] = template
        else:
            plain[name] = template.format(**values)
    return plain, secret


def env_file(variables: dict[str, str]) -> str:
    return "".join(f"{k}={quote(v)}\n" for k, v in sorted(variables.items()))


def quote(value: str) -> str:
    """One value for a file that both systemd (EnvironmentFile) and sh (`.`)
    read: inside double quotes, both take a backslash before \\ " $ ` as the
    character itself, so nothing in a value is expanded or run."""
    if value and all(c.isalnum() or c in "._-/:@+,=" for c in value):
        return value
    escaped = "".join("\\" + c if c in '\\"$`' else c for c in value)
    return f'"{escaped}"'
