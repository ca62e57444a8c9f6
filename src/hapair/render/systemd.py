"""systemd units: the application server, the agent, mounts."""

from __future__ import annotations

from hapair.paths import (
    AGENT_CREDENTIAL,
    AGENT_SECRETS_ENV,
    APP_ENV,
    APP_LOADED_DIR,
    APP_SECRETS_ENV,
    APP_USER,
    APP_WANTED_FILE,
    GUNICORN_CONF,
    HAPAIR_VENV,
    RUN_DIR,
    SPEC_JSON,
    STOP_FENCE_TIMES,
)
from hapair.render.appenv import env_file, split_env
from hapair.render.files import IN_RESTART_WINDOW, RenderedFile, header
from hapair.spec.models import ClusterSpec, Node

UNIT_DIR = "/etc/systemd/system"
TMPFILES = "/etc/tmpfiles.d/hapair.conf"
APP_UNIT = "hapair-app.service"
AGENT_UNIT = "hapair-agent.service"
STOP_FENCE = "/usr/local/sbin/hapair-stop-fence"  # the agent's stop hook


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
    lazy: bool = False,
) -> RenderedFile:
    order = " ".join(("network-online.target", *after))
    # lazy: a restart unmounts even while a file there is open.
    unmount = "LazyUnmount=yes\n" if lazy else ""
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
{unmount}
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
ExecStart={web.venv}/bin/gunicorn --config {GUNICORN_CONF} \\
    --bind 127.0.0.1:{web.port} --workers {web.workers} \\
    --worker-class gthread --threads {web.threads} --graceful-timeout 5 \\
    --timeout {web.limits.app_timeout_s} {web.app}
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
# Before the bookings on a busy CPU: the guard must close the database in
# time on a starved host, and first of all on a machine that resumes from a
# pause (every process then runs at once). Its stop hook inherits it.
Nice=-10
# Its secrets as a credential (a file only root reads, under
# $CREDENTIALS_DIRECTORY), not its environment: every child would inherit that.
LoadCredential={AGENT_CREDENTIAL}:{AGENT_SECRETS_ENV}
ExecStart={HAPAIR_VENV}/bin/hapair agent --config {SPEC_JSON} --node {node.name}
# However the agent stopped (even SIGKILL), no writes without it.
ExecStopPost=-{STOP_FENCE}
Restart=always
RestartSec=0.5

[Install]
WantedBy=multi-user.target
"""
    return RenderedFile(f"{UNIT_DIR}/{AGENT_UNIT}", text, 0o644, "systemd")


def stop_fence(spec: ClusterSpec, node: Node) -> RenderedFile:
    """The agent's stop hook, in shell: a new Python interpreter took 0.3-0.5 s
    to start, which on a machine resuming from a pause (systemd's watchdog
    kills the agent at once then) was as long as the database stayed
    writable beside the new primary."""
    app = spec.database.users.app  # a validated SQL name: no quote inside
    text = f"""#!/bin/sh
{header(spec, node).strip()}
# systemd runs this when the agent stops, however it stopped: no writes
# without an agent. How long it took goes to {STOP_FENCE_TIMES} for the
# next agent to report (a measured term of the timing inequality): in the
# kernel's uptime, read by the shell itself (no process to start: on a
# machine resuming from a pause each one cost tens of milliseconds).
read -r t0 _ < /proc/uptime
# A restart of the agent in place, asked by apply's roll: the database stays
# open until the window's end, when the server's lease watch closes it by
# itself if no agent has taken the lease back.
{IN_RESTART_WINDOW}
if in_restart_window "$t0"; then exit 0; fi
db() {{ /usr/bin/mariadb --connect-timeout=2 -N -B -e "$1"; }}
took() {{ read -r t1 _ < /proc/uptime; echo "$t0 $t1 $1" > {STOP_FENCE_TIMES}; }}
# The quick way when no commit waits for an acknowledgement (the standby
# still replicates: an agent that froze or crashed): read_only, bounded;
# then the sessions go, and the application stays up. (Stopping it at once
# after every watchdog kill, without this look, made a frozen agent's
# clients wait longer: the longest wait 1.64 s against 1.15 s, medians of 6.)
stuck=$(db "SELECT COUNT(*) FROM information_schema.PROCESSLIST
            WHERE state LIKE 'Waiting for semi-sync%'") || exit 1
if [ "$stuck" = 0 ] && db "SET SESSION max_statement_time = 0.2; SET GLOBAL read_only = ON"
then
  took "read_only at once"
  exec /usr/bin/mariadb -e "KILL CONNECTION USER '{app}'"
fi
# Commits are stuck (a machine resuming from a pause, whose standby promoted
# meanwhile): read_only waits for them, and killing their sessions alone
# lets a client still hear "done" (measured). So the application's
# processes go first (systemd restarts them), then the sessions, then
# read_only.
pkill -KILL -u {APP_USER}
db "KILL CONNECTION USER '{app}'; SET GLOBAL read_only = ON" &&
  took "commits were stuck: the application stopped first"
"""  # noqa: S608 - app is a validated SQL name
    return RenderedFile(STOP_FENCE, text, 0o755, "systemd")


def gunicorn_conf(spec: ClusterSpec, node: Node) -> RenderedFile:
    """gunicorn's hooks: a worker that has loaded the application says so
    (a file named after its pid), and unsays it when it exits; the arbiter
    says how many it starts (`wanted`: the agent never reads the spec's
    count, whose change then restarts no agent). gunicorn
    answers as soon as one worker has loaded, while the others may load for
    seconds more on a busy node: a switchover onto a just-restarted
    application then waited for them (1.5-2 s without a booking on the demo
    lab). The agent counts the files of live workers (status: app_loading)."""
    text = f"""{header(spec, node)}
import os

LOADED = {APP_LOADED_DIR!r}


def when_ready(server):
    os.makedirs(LOADED, exist_ok=True)
    with open(os.path.join(LOADED, "{APP_WANTED_FILE}"), "w") as f:
        f.write(str(server.num_workers))


def post_worker_init(worker):
    os.makedirs(LOADED, exist_ok=True)
    with open(os.path.join(LOADED, str(worker.pid)), "w"):
        pass


def worker_exit(server, worker):
    try:
        os.unlink(os.path.join(LOADED, str(worker.pid)))
    except FileNotFoundError:
        pass
"""
    return RenderedFile(GUNICORN_CONF, text, 0o644, "systemd")


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


def apache_reload(spec: ClusterSpec, node: Node) -> RenderedFile:
    """Apache's reload is Debian's graceful one, its parent then woken by a
    second graceful signal as soon as the old children have gone, should it
    have started none of the new ones (hapair/apache_reload.py: up to a
    second with no listener otherwise). Debian's own until hapair's venv is
    in place (`apply --only host` lands this file first)."""
    tool = f"{HAPAIR_VENV}/bin/hapair-apache-reload"
    text = (header(spec, node) + "[Service]\nExecReload=\n"
            f"ExecReload=/bin/sh -c 'if [ -x {tool} ]; then exec {tool}; "
            "else exec /usr/sbin/apachectl graceful; fi'\n")
    return RenderedFile(f"{UNIT_DIR}/apache2.service.d/hapair-reload.conf", text, 0o644,
                        "systemd")


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    return [app_unit(spec, node), agent_unit(spec, node), stop_fence(spec, node),
            app_env(spec, node), gunicorn_conf(spec, node),
            tmpfiles(spec, node), *restart_dropins(spec, node), apache_reload(spec, node)]
