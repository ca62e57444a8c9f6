"""keepalived.conf: VRRPv3 with unicast peers, BACKUP + nopreempt, a health
check against the node's own agent, and transitions to the agent's FIFO.

The adverts travel the interconnect, the VIP lives on its own network (the
public one). VRRP has no authentication worth the name (keepalived checks an
advert's source address only), so an advert carried on the public network
could be forged by any host there: a priority-0 advert "from" the primary
moves the VIP to the standby, higher-priority ones "from" the standby take
it from the primary for as long as they come. The interconnect is the
nodes' own link, and the firewall takes VRRP from the peer's interconnect
address on it only. The VIP's link is tracked: a primary whose public link
is lost goes to FAULT and says so over the interconnect (a priority-0
advert), so the standby takes over at once. An interconnect cut leaves each
node without the other's adverts; the standby then takes the VIP a moment,
and its agent, seeing the primary alive on the public network, gives it
back and stays out until the interconnect returns (agent/core/standby.py); the
primary's agent says where the VIP is again (gratuitous ARP).

A node that stops holding the VIP keeps it on lo a moment (VIP_LINGER_S),
keepalived itself seeing to it (a notify script, as root, on leaving
MASTER), so that answers in flight still leave from it: removed outright,
their packets have no source address the kernel will route, and a client
whose request was already acknowledged waits out its own timeout (seen in
the lab: a request in flight on the old holder, answered 1.5 s later from
lo, not at all without it)."""

from __future__ import annotations

from hapair.paths import NOTIFY_FIFO, SYSCTL_FILE, TRACK_FILE
from hapair.render.files import IN_RESTART_WINDOW, RenderedFile, header
from hapair.spec.models import ClusterSpec, Node

CHECK_USER = "nobody"
# keepalived's notify on leaving MASTER (for a fault, a higher advert or its
# own stop), run as root: the VIP on lo for VIP_LINGER_S, never answered in
# ARP there (sysctl below). The agent's own drops linger as long
# (agent/node/observe.py LINGER_S).
VIP_LINGER = "/usr/local/sbin/hapair-vip-linger"
CHECK_SCRIPT = "/usr/local/sbin/hapair-check-agent"
VIP_LINGER_S = 2.0


def _seconds(value: float) -> str:
    return f"{value:g}"


def health_check_command(spec: ClusterSpec) -> str:
    """The vrrp_script's request: asks the local agent whether its loop is
    turning (the verdict itself comes through the tracked file)."""
    t = spec.timing
    return (
        f"/usr/bin/curl -fsS -o /dev/null --max-time {_seconds(t.check_timeout_s)} "
        f"http://127.0.0.1:{spec.agent.port}/alive"
    )


def check_script(spec: ClusterSpec, node: Node) -> RenderedFile:
    """The vrrp_script itself: the agent's loop turns, or the agent restarts
    in place and its window is open (agent/restarting.py): no agent answers
    then, and the VIP stays."""
    text = f"""#!/bin/sh
{header(spec, node).strip()}
# keepalived runs this as {CHECK_USER} every check interval (keepalived.conf).
{health_check_command(spec)} 2>/dev/null && exit 0
{IN_RESTART_WINDOW}
read -r now _ < /proc/uptime
in_restart_window "$now"
"""
    return RenderedFile(CHECK_SCRIPT, text, 0o755, "keepalived")


def vrrp_priority(spec: ClusterSpec, node: Node) -> int:
    """254 for the node the spec prefers, one less for each node it prefers
    over this one (the spec's order; equal priorities stay equal, and
    keepalived breaks the tie by address): a pair's are 254 and 253."""
    return 254 - sum(o.priority > node.priority for o in spec.others(node))


def render(spec: ClusterSpec, node: Node) -> list[RenderedFile]:
    t = spec.timing
    net = getattr(spec.networks, spec.vip.network)
    adverts = spec.networks.interconnect  # the nodes' own link (module docstring)
    others = spec.others(node)
    vip_net = net.cidr
    tracked = "" if net.device == adverts.device else f"""
    # The VIP's link: lost, the instance goes to FAULT and the peer takes over.
    track_interface {{
        {net.device}
    }}"""
    peers = "\n".join(f"        {o.interconnect}" for o in others)
    against = ", ".join(str(o.priority) for o in others)
    text = f"""{header(spec, node)}
global_defs {{
    router_id {node.name}
    vrrp_version 3
    # Scripts run as an unprivileged user and only from root-owned paths.
    enable_script_security
    script_user {CHECK_USER}
    # Repeat gratuitous ARPs after taking the VIP, so that clients and switches
    # stop sending to a former holder that may still answer for it. No periodic
    # refresh: in a partition both sides would pull clients back and forth (a
    # former holder whose keepalived died has its VIP removed by the agent).
    vrrp_garp_master_delay 1
    vrrp_garp_master_repeat 3
    # After a partition both nodes may have been MASTER, and the clients'
    # last gratuitous ARPs may be the loser's: the one that yields sends an
    # advert first, so that the one that keeps the VIP announces it again
    # (vrrp_garp_lower_prio_repeat defaults to the repeat above). Without it
    # clients sent to the VIP go to the loser until their ARP entry expires.
    vrrp_higher_prio_send_advert true
    # Every transition, in order, to the agent.
    notify_fifo {NOTIFY_FIFO}
}}

# The agent's verdict, seen at once (inotify): 0 lets this node hold the VIP,
# anything else puts the instance in FAULT. It reads 1 until the agent writes.
vrrp_track_file agent_verdict {{
    file {TRACK_FILE}
    weight 0
    init_file 1 overwrite
}}

# The backstop: an agent that stops answering, or whose loop stops turning,
# loses the VIP.
vrrp_script chk_agent {{
    script "{CHECK_SCRIPT}"
    interval {_seconds(t.check_interval_s)}
    timeout {_seconds(t.check_timeout_s)}
    fall {t.fall}
    rise {t.rise}
}}

vrrp_instance {spec.name.upper().replace("-", "_")}_VIP {{
    # Both nodes start as BACKUP and never take the VIP back on their own:
    # a node that returns must first prove its database complete (the agent).
    state BACKUP
    nopreempt
    # Adverts on the interconnect, where no client can forge one (above).
    interface {adverts.device}
    virtual_router_id {spec.vip.vrid}
    # The spec's order ({node.priority} against {against}), near the top: a
    # backup takes over after the holder's priority-0 advert when VRRPv3's skew
    # time, (256 - priority) x advert_int / 256, has passed: 61 ms at priority
    # 100, during which the VIP is nowhere and new connections wait a SYN retry.
    priority {vrrp_priority(spec, node)}
    advert_int {_seconds(t.advert_interval_s)}
    unicast_src_ip {node.interconnect}
    # Adverts only from the peer's address (the firewall also takes VRRP from
    # it alone, on the interconnect alone).
    check_unicast_src
    unicast_peer {{
{peers}
    }}
    virtual_ipaddress {{
        {spec.vip.address}/{vip_net.prefixlen} dev {net.device}
    }}{tracked}
    track_script {{
        chk_agent
    }}
    track_file {{
        agent_verdict weight 0
    }}
    # Leaving MASTER: answers in flight still leave from the VIP, on lo.
    notify_backup "{VIP_LINGER}" root
    notify_fault "{VIP_LINGER}" root
    notify_stop "{VIP_LINGER}" root
    # Holding it again: no copy on lo (the firewall resets new connections
    # to a VIP that lo holds before the link: render/firewall.py).
    notify_master "{VIP_LINGER} end" root
}}
"""
    return [RenderedFile("/etc/keepalived/keepalived.conf", text, 0o644, "keepalived"),
            RenderedFile(SYSCTL_FILE, sysctl(spec, node), 0o644, "sysctl"),
            vip_linger(spec, node), check_script(spec, node)]


def vip_linger(spec: ClusterSpec, node: Node) -> RenderedFile:
    """keepalived's notify script when this node stops holding the VIP (it
    has removed it already): the VIP on lo for VIP_LINGER_S, then gone. In
    the background, so keepalived's own wait for its notify scripts is
    short; `replace` and a failed `del` are harmless when the agent lingers
    too, or when the node is MASTER again (its link's address stays)."""
    vip = spec.vip.address
    text = f"""#!/bin/sh
{header(spec, node).strip()}
# keepalived runs this as root on BACKUP, FAULT and STOP (keepalived.conf),
# and with "end" on MASTER.
if [ "${{1:-}}" = end ]; then
  /usr/sbin/ip addr del {vip}/32 dev lo 2>/dev/null
  exit 0
fi
/usr/sbin/ip addr replace {vip}/32 dev lo
( sleep {_seconds(VIP_LINGER_S)}; /usr/sbin/ip addr del {vip}/32 dev lo 2>/dev/null ) &
exit 0
"""
    # keepalived's script security: owned by root, written by root alone.
    return RenderedFile(VIP_LINGER, text, 0o755, "keepalived")


def sysctl(spec: ClusterSpec, node: Node) -> str:
    """A node that gives the VIP up after a drain keeps it on lo a moment, so
    that its answers in flight still leave from it (agent/api/commands.py): it
    must never answer ARP for it from there, nor name it in its own ARP
    requests. ARP is then answered only for addresses of the asking
    interface, which the nodes' own addresses are."""
    return f"""{header(spec, node)}
net.ipv4.conf.all.arp_ignore = 1
net.ipv4.conf.all.arp_announce = 2
"""
