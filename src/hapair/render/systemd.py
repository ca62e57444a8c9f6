"""systemd units: the application server, the agent, mounts."""

from __future__ import annotations

from hapair.render.files import (
    AGENT_SECRETS_ENV,
    APP_ENV,
    APP_SECRETS_ENV,
    APP_USER,
    HAPAIR_VENV,
    SPEC_JSON,
    RenderedFile,
    header,
)
from hapair.spec.models import ClusterSpec, Node

UNIT_DIR = "/etc/systemd/system"
APP_UNIT = "hapair-app.service"
AGENT_UNIT = "hapair-agent.service"


def escape_path(path: str) -> str:
    """systemd-escape --path: the unit name of a mount point."""
    trimmed = path.strip("/")
    if not trimmed:
        return "-"
    out = []
    for i, ch in enumerate(trimmed):
        if ch == "/":
            out.append("-")
        elif ch.isalnum() or ch in ":_" or (ch == "." and i > 0):
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}")
    return "".join(out)


def mount_unit(
    spec: ClusterSpec,
    node: Node,
    *,
    what: str,
    where: str,
    fstype: str,
    options: str,
    after: tuple[str, ...] = (),
) -> RenderedFile:
    order = " ".join(("network-online.target", *after))
    text = f"""{header(spec, node)}
[Unit]
Description=hapair: {fstype} {what} on {where}
Wants=network-online.target
After={order}

[Mount]
What={what}
Where={where}
Type={fstype}
Options={options}

[Install]
WantedBy=multi-user.target
"""
    return RenderedFile(f"{UNIT_DIR}/{escape_path(where)}.mount", text, 0o644, "systemd")


def app_unit(spec: ClusterSpec, node: Node) -> RenderedFile:
    web = spec.web
    mount = f"{escape_path(spec.volume.mount_point)}.mount"
    text = f"""{header(spec, node)}
[Unit]
Description=hapair application server ({web.app})
Wants=network-online.target
After=network-online.target mariadb.service {mount}

[Service]
Type=exec
User={APP_USER}
Group={APP_USER}
EnvironmentFile={APP_ENV}
EnvironmentFile=-{APP_SECRETS_ENV}
ExecStart={web.venv}/bin/gunicorn --bind 127.0.0.1:{web.port} --workers {web.workers} \\
    --graceful-timeout 5 --access-logfile - {web.app}
Restart=always
RestartSec=1
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=full
ProtectHome=yes

[Install]
WantedBy=multi-user.target
"""
    return RenderedFile(f"{UNIT_DIR}/{APP_UNIT}", text, 0o644, "systemd")


def agent_unit(spec: ClusterSpec, node: Node) -> RenderedFile:
    text = f"""{header(spec, node)}
[Unit]
Description=hapair agent: keeps one writable, complete database behind the VIP
Wants=network-online.target
After=network-online.target mariadb.service
Before=keepalived.service

[Service]
Type=exec
EnvironmentFile=-{AGENT_SECRETS_ENV}
ExecStart={HAPAIR_VENV}/bin/hapair agent --config {SPEC_JSON} --node {node.name}
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
"""
    return RenderedFile(f"{UNIT_DIR}/{AGENT_UNIT}", text, 0o644, "systemd")


def app_env(spec: ClusterSpec, node: Node) -> RenderedFile:
    """The application's settings that are not secret (secrets: apply, mode 0600)."""
    env = {"HAPAIR_NODE": node.name, "HAPAIR_STATIC_DIR": spec.volume.mount_point}
    env.update(spec.web.env)
    body = "".join(f"{k}={_quote(v)}\n" for k, v in sorted(env.items()))
    return RenderedFile(APP_ENV, header(spec, node) + body, 0o644, "systemd")


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "._-/:@+,=" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    return [app_unit(spec, node), agent_unit(spec, node), app_env(spec, node)]
