"""hapair's own pyinfra operations for the Gluster volume: its pool, its
options and start, and a mount that serves (ops.py says how they are made)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host

from hapair.deploy import ops
from hapair.deploy.facts import Gluster, PathAnswers
from hapair.deploy.shell import cmd, tried, waited
from hapair.render.gluster import GlusterPlan, restarts_volume

# This host's bricks and self-heal daemon (a bracket keeps pgrep -f and
# pkill -f from finding the shell that runs them).
_SHD = "'[-]-process-name glustershd'"
_GONE = waited(f"! pgrep -x glusterfsd >/dev/null && ! pgrep -f -- {_SHD} >/dev/null", 50)


def restart_with_bricks() -> str:
    """glusterd restarted with this host's bricks and self-heal daemon, if it
    runs (a changed certificate or TLS file; glusterd starts the bricks of
    the started volumes at its own start): what Debian's unit did, by hand,
    now that glusterd's unit leaves them (render/gluster.py
    `glusterd_dropin`). The files are away from here for these seconds."""
    return ("{ ! systemctl is-active -q glusterd || { systemctl stop glusterd && "
            f"{{ pkill -x glusterfsd; pkill -f -- {_SHD}; {_GONE}; "
            "systemctl start glusterd; }; }; }")


def _wait_connected(n: int) -> str:
    """A new peer takes a moment to be Connected; volume changes need it."""
    return waited(f"[ $(gluster pool list | grep -c Connected) -ge {n} ]", 100)


@operation()
def gluster_pool(plan: GlusterPlan) -> Generator[Any, None, None]:
    st = host.get_fact(Gluster, volume=plan.volume)
    if not st.up:
        raise OperationError(f"glusterd is not answering on {host.name}")
    me = host.data.get("node")
    commands = [cmd("gluster", "peer", "probe", p)
                for p in plan.peers if p != me and p not in st.peers]
    if not st.volume_exists:
        commands += [_wait_connected(len(plan.peers)), cmd(*plan.create)]
    elif plan.add_arbiter and plan.bricks[-1] not in st.bricks:
        if st.bricks != plan.bricks[:-1]:
            raise OperationError(
                f"volume {plan.volume} has bricks {', '.join(st.bricks)}, not "
                f"{', '.join(plan.bricks[:-1])}: an arbiter is added only to a volume whose "
                "bricks are named by host (nothing was changed)")
        # The arbiter learns every file's name and metadata by a full heal.
        commands += [_wait_connected(len(plan.peers)), cmd(*plan.add_arbiter),
                     cmd("gluster", "volume", "heal", plan.volume, "full")]
    changed = [kv for k, v in sorted(plan.options.items()) if st.options.get(k) != v
               for kv in (k, v)]
    restart = st.volume_started and restarts_volume(st.options, plan.options)
    if restart:  # glusterd has just been restarted with TLS: its peers first
        commands.append(_wait_connected(len(plan.peers)))
    if changed:  # gluster sets any number of options in one command
        commands.append(cmd("gluster", "volume", "set", plan.volume, *changed))
    if restart:
        # TLS turned on (or off): the bricks take it only at their start, and
        # a mount made before cannot speak to them after (mount_serving makes
        # it again). The files are away for these seconds (3.5-4.3 s in the
        # demo lab, from glusterd's restart); the bookings not.
        commands.append(cmd("gluster", "--mode=script", "volume", "stop", plan.volume))
        commands.append(cmd("gluster", "volume", "start", plan.volume))
    elif not st.volume_started:
        commands.append(cmd("gluster", "volume", "start", plan.volume))
    if not commands:
        host.noop(f"volume {plan.volume} started with its options")
    yield from commands


@operation()
def mount_serving(unit: str, path: str) -> Generator[Any, None, None]:
    """A mount unit started, or made again when its path answers no more (a
    Gluster mount made before its volume turned TLS on: its client cannot
    speak to the bricks again). Its unit unmounts lazily: a file held open
    there does not keep the old mount."""
    name, st = ops.unit_state(unit)
    if st.running and not host.get_fact(PathAnswers, path=path):
        yield tried(cmd("systemctl", "restart", name))
        return
    yield from ops.unit_started._inner(unit)
