"""systemd units: the application server, the agent, mounts."""

from __future__ import annotations

from hapair.paths import (
    AGENT_SECRETS_ENV,
    APP_ENV,
    APP_SECRETS_ENV,
    APP_USER,
    HAPAIR_VENV,
    RUN_DIR,
    SPEC_JSON,
)
from hapair.render.appenv import env_file, split_env
from hapair.render.files import RenderedFile, header
from hapair.spec.models import ClusterSpec, Node

UNIT_DIR = "/etc/systemd/system"
TMPFILES = "/etc/tmpfiles.d/hapair.conf"
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
# Keep restarting however often it fails: the agent reports it meanwhile.
StartLimitIntervalSec=0

[Service]
Type=exec
User={APP_USER}
Group={APP_USER}
EnvironmentFile={APP_ENV}
EnvironmentFile=-{APP_SECRETS_ENV}
# gunicorn keeps a control socket under $HOME: give it a directory of its own.
# (No access log here: Apache writes it, and the agent's checks would flood it.)
RuntimeDirectory=hapair-app
Environment=HOME=/run/hapair-app
ExecStart={web.venv}/bin/gunicorn --bind 127.0.0.1:{web.port} --workers {web.workers} \\
    --worker-class gthread --threads {web.threads} --graceful-timeout 5 {web.app}
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
    watchdog_ms = round(spec.timing.watchdog_s * 1000)
    text = f"""{header(spec, node)}
[Unit]
Description=hapair agent: keeps one writable, complete database behind the VIP
Wants=network-online.target
After=network-online.target mariadb.service
Before=keepalived.service
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
# A frozen agent (stopped, stuck, paused) stops pinging: systemd kills it
# after {watchdog_ms} ms, and the lines below close the database at once.
WatchdogSec={watchdog_ms}ms
WatchdogSignal=SIGKILL
EnvironmentFile=-{AGENT_SECRETS_ENV}
ExecStart={HAPAIR_VENV}/bin/hapair agent --config {SPEC_JSON} --node {node.name}
# However the agent stopped (even SIGKILL), no writes without it: first the
# quick way (no commit is stuck while the standby still acknowledges), then
# the thorough one (the application stopped at once when the quick way did
# not take: commits are stuck, as on a machine resuming from a pause).
ExecStopPost=-/usr/bin/timeout 0.2 /usr/bin/mariadb -e "SET GLOBAL read_only = ON"
ExecStopPost={HAPAIR_VENV}/bin/hapair agent --config {SPEC_JSON} --node {node.name} --fence-only
Restart=always
RestartSec=0.5

[Install]
WantedBy=multi-user.target
"""
    return RenderedFile(f"{UNIT_DIR}/{AGENT_UNIT}", text, 0o644, "systemd")


def app_env(spec: ClusterSpec, node: Node) -> RenderedFile:
    """The application's settings that are not secret (secrets: apply, mode 0600)."""
    plain, _ = split_env(spec, node)
    return RenderedFile(APP_ENV, header(spec, node) + env_file(plain), 0o644, "systemd")


def tmpfiles(spec: ClusterSpec, node: Node) -> RenderedFile:
    """/run/hapair at every boot: the agent's verdict file and keepalived's FIFO."""
    text = header(spec, node) + f"d {RUN_DIR} 0755 root root -\n"
    return RenderedFile(TMPFILES, text, 0o644, "systemd")


# Services the cluster cannot do without come back by themselves, whatever
# stopped them; the agent decides what they may do when they are back.
RESTARTED = ("mariadb", "keepalived", "apache2")


def restart_dropins(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    def text(unit: str) -> str:
        # MariaDB waits for its data directory's filesystem (the RAID array's).
        mounts = (f"RequiresMountsFor={spec.database.datadir}\n" if unit == "mariadb" else "")
        return (header(spec, node) + f"[Unit]\nStartLimitIntervalSec=0\n{mounts}\n"
                "[Service]\nRestart=always\nRestartSec=1\n")
    # A changed drop-in needs a daemon-reload, not a restart of the service.
    return [RenderedFile(f"{UNIT_DIR}/{unit}.service.d/hapair-restart.conf", text(unit), 0o644,
                         "systemd") for unit in RESTARTED]


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    return [app_unit(spec, node), agent_unit(spec, node), app_env(spec, node),
            tmpfiles(spec, node), *restart_dropins(spec, node)]
