"""The firewall's rule for a lingering VIP, in real namespaces (nft, veth):
with the VIP on the link a new connection is taken; with the VIP only on lo
(after it left: render/keepalived.py) it is reset at once. The rule acts on
new connections only (ct state new): those made before go on from lo."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hapair.render import firewall, keepalived
from hapair.spec import load_spec
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.tools
VIP, PORT = "10.9.0.100", 443
SPEC = load_spec(EXAMPLES / "lab-pair.toml").spec


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


@contextmanager
def two_hosts() -> Iterator[tuple[str, str]]:
    """A node (10.9.0.1 on its link, the VIP's firewall rules loaded) and a
    client (10.9.0.2), one veth apart."""
    node, client = f"hp-n-{uuid.uuid4().hex[:6]}", f"hp-c-{uuid.uuid4().hex[:6]}"
    run("ip", "netns", "add", node)
    run("ip", "netns", "add", client)
    try:
        run("ip", "link", "add", "pub0", "netns", node, "type", "veth", "peer", "name", "eth0",
            "netns", client)
        for ns, dev, addr in ((node, "pub0", "10.9.0.1/24"), (client, "eth0", "10.9.0.2/24")):
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            run("ip", "-n", ns, "link", "set", dev, "up")
        rules = firewall.Rules(open_tcp=("22",), cluster=(), admin=(), admin_tcp=(), vip=VIP,
                               web_tcp=(str(PORT),))
        subprocess.run(["ip", "netns", "exec", node, "nft", "-f", "-"],
                       input=firewall.text(rules, ""), text=True, check=True)
        yield node, client
    finally:
        run("ip", "netns", "del", node)
        run("ip", "netns", "del", client)


def listening(node: str) -> subprocess.Popen[str]:
    """A server on PORT in the node's namespace, returned once it listens (a
    busy host takes a while to start an interpreter: a connection made
    before is refused by the kernel, which the tests would read as a reset)."""
    server = subprocess.Popen(["ip", "netns", "exec", node, "python3", "-c",
                               "import socket,time\ns=socket.socket()\n"
                               f"s.bind(('0.0.0.0', {PORT})); s.listen(8); print('up', flush=True)"
                               "; time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().strip() == "up"
    return server


def connect(client: str) -> str:
    code = (f"import socket\ns=socket.socket(); s.settimeout(2)\n"
            f"try:\n    s.connect(('{VIP}', {PORT})); print('connected')\n"
            "except OSError as e: print(type(e).__name__)")
    r = subprocess.run(["ip", "netns", "exec", client, "python3", "-c", code],
                       capture_output=True, text=True, timeout=10, check=False)
    return r.stdout.strip()


def test_a_new_connection_to_a_lingering_vip_is_reset() -> None:
    with two_hosts() as (node, client):
        server = listening(node)
        try:
            # The client's ARP entry for the VIP names the node, as after its GARPs.
            mac = subprocess.run(["ip", "netns", "exec", node, "cat",
                                  "/sys/class/net/pub0/address"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            run("ip", "-n", client, "neigh", "replace", VIP, "lladdr", mac, "dev", "eth0")
            run("ip", "-n", node, "addr", "add", f"{VIP}/24", "dev", "pub0")
            assert connect(client) == "connected"
            run("ip", "-n", node, "addr", "del", f"{VIP}/24", "dev", "pub0")
            run("ip", "-n", node, "addr", "add", f"{VIP}/32", "dev", "lo")
            assert connect(client) == "ConnectionRefusedError"  # a reset, not a 2 s wait
        finally:
            server.kill()


def test_a_node_that_takes_the_vip_back_while_it_lingers_takes_new_connections() -> None:
    """The VIP on lo (a linger), then on the link again (keepalived's MASTER
    within the 2 s: at its start it lingers on BACKUP first). With both,
    the local table lists lo's first, fib daddr . iif says 'not local' on
    the link and every new client would be reset until the linger ends: so
    keepalived's notify on MASTER ends the linger (the script's "end"), and
    then they are taken."""
    with two_hosts() as (node, client):
        server = listening(node)
        try:
            run("ip", "-n", node, "addr", "add", f"{VIP}/32", "dev", "lo")
            run("ip", "-n", node, "addr", "add", f"{VIP}/24", "dev", "pub0")
            assert connect(client) == "ConnectionRefusedError"  # the order's trap
            script = next(f for f in keepalived.render(SPEC, SPEC.nodes[0])
                          if f.path == keepalived.VIP_LINGER).content
            run("ip", "netns", "exec", node, "sh", "-c",
                script.replace(str(SPEC.vip.address), VIP), "linger", "end")
            assert connect(client) == "connected"
        finally:
            server.kill()

