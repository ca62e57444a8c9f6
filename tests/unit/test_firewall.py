"""The nftables rules each host gets: what is open to whom, and that nft
itself accepts the text (checked, never loaded, when nft can run here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from ipaddress import IPv4Network

import pytest

from hapair.render import firewall, render_node
from hapair.spec import ClusterSpec
from hapair.spec.models import Firewall, Volume, Witness


def rules_text(spec: ClusterSpec, node: int = 0) -> str:
    files = render_node(spec, spec.nodes[node])
    return next(f.content for f in files if f.path == firewall.RULES_PATH)


def with_witness(spec: ClusterSpec) -> ClusterSpec:
    return spec.model_copy(update={
        "witness": Witness(name="arb", address="10.54.0.12"),  # type: ignore[arg-type]
        "volume": Volume(arbiter="arb"),
    })


def test_a_node_opens_ssh_to_all_the_web_on_the_vip_and_the_rest_to_its_peer_only(
        m2l: ClusterSpec) -> None:
    r = firewall.for_node(m2l, m2l.nodes[0])
    assert r.open_tcp == ("22",)
    assert r.vip == "10.54.0.100" and r.web_tcp == ("80", "443") and r.per_source == 100
    assert r.cluster == ("192.168.57.103", "10.54.0.11")  # node2's two addresses
    assert "3306" not in r.open_tcp and "8008" not in r.open_tcp
    assert r.admin == ("10.54.0.5/32",)  # the example's operators: one admin host
    text = rules_text(m2l.model_copy(update={"firewall": Firewall()}))
    assert "policy drop;" in text
    # The cluster's hosts whole (connections older than the rules included).
    assert "ip saddr @cluster accept" in text
    assert "@admin" not in text  # no admin networks: no rule for them
    # A packet of a connection this host does not know is not dropped as
    # invalid (the web port answers it with a reset after a failover).
    assert "invalid" not in text
    # The web: the VIP from anywhere, one address's connections capped; the
    # node's own addresses only from the cluster (and the admin networks).
    assert "ip daddr 10.54.0.100 tcp dport { 80, 443 } accept" in text
    assert ("ip daddr 10.54.0.100 tcp dport { 80, 443 } ct state new add @web_sources "
            "{ ip saddr ct count over 100 } counter reject with tcp reset") in text
    assert text.index("ct count over") < text.index("tcp dport { 80, 443 } accept")
    # The VIP only on lo (a linger after it left): a new connection is reset.
    linger = ("ip daddr 10.54.0.100 tcp dport { 80, 443 } ct state new fib daddr . iif type "
              "!= local counter reject with tcp reset")
    assert linger in text and text.index(linger) < text.index("ct count over")
    assert not any("dport { 80" in line and "daddr" not in line and "@admin" not in line
                   for line in text.splitlines())


def test_vrrp_only_from_the_peer_on_the_interconnect(m2l: ClusterSpec) -> None:
    """A forged advert from the public network is dropped, before connection
    tracking could take it for the reply to one of ours."""
    text = rules_text(m2l)
    accept = 'ip protocol 112 iifname "bond0" ip saddr 192.168.57.103 accept'
    assert accept in text and "ip protocol 112 counter drop" in text
    assert text.index(accept) < text.index("ip protocol 112 counter drop")
    assert text.index("ip protocol 112 counter drop") < text.index("ct state established")


def test_no_cap_on_the_web_when_set_to_zero(m2l: ClusterSpec) -> None:
    text = rules_text(m2l.model_copy(update={"firewall": Firewall(
        web_connections_per_source=0)}))
    assert "ct count" not in text and "web_sources" not in text
    assert "ip daddr 10.54.0.100 tcp dport { 80, 443 } accept" in text


def test_the_witness_and_the_admin_networks(m2l: ClusterSpec) -> None:
    spec = with_witness(m2l).model_copy(update={"firewall": Firewall(
        admin_from=(IPv4Network("10.99.0.0/24"),))})
    node = firewall.for_node(spec, spec.nodes[1])
    assert node.cluster == ("192.168.57.102", "10.54.0.10", "10.54.0.12")
    assert node.admin == ("10.99.0.0/24",) and node.admin_tcp == ("8008", "80", "443")
    assert "ip saddr @admin tcp dport { 8008, 80, 443 } accept" in rules_text(spec, 1)
    w = firewall.for_witness(spec)
    assert w.cluster == ("192.168.57.102", "10.54.0.10", "192.168.57.103", "10.54.0.11")
    assert w.admin == () and w.open_tcp == ("22",) and w.vip == ""
    wtext = next(f.content for f in firewall.render_witness(spec)
                 if f.path == firewall.RULES_PATH)
    assert "witness arb" in wtext and "ip saddr @cluster accept" in wtext
    assert "8008" not in wtext and "dport { 80" not in wtext


def test_turned_off_it_removes_only_its_own_table(m2l: ClusterSpec) -> None:
    spec = m2l.model_copy(update={"firewall": Firewall(enabled=False)})
    text = rules_text(spec)
    assert text.endswith("table inet hapair\ndelete table inet hapair\n")
    assert "chain" not in text


def test_the_unit_loads_the_rules_before_the_network(m2l: ClusterSpec) -> None:
    unit = next(f.content for f in render_node(m2l, m2l.nodes[0])
                if f.path == firewall.UNIT_PATH)
    assert "Before=network-pre.target" in unit
    assert f"ExecReload=/usr/sbin/nft -f {firewall.RULES_PATH}" in unit


def test_with_three_nodes_each_lets_in_both_others_and_their_vrrp(
        m2l_three: ClusterSpec) -> None:
    r = firewall.for_node(m2l_three, m2l_three.nodes[1])
    assert r.cluster == ("192.168.57.102", "10.54.0.10", "192.168.57.104", "10.54.0.12")
    assert r.vrrp == ("bond0", ("192.168.57.102", "192.168.57.104"))
    assert ('ip protocol 112 iifname "bond0" ip saddr { 192.168.57.102, 192.168.57.104 } '
            "accept") in rules_text(m2l_three, 1)


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")
def test_nft_accepts_the_rules(m2l: ClusterSpec, m2l_three: ClusterSpec,
                               tmp_path: object) -> None:
    spec = with_witness(m2l).model_copy(update={"firewall": Firewall(
        admin_from=(IPv4Network("10.99.0.0/24"), IPv4Network("172.16.0.0/12")))})
    texts = [rules_text(spec, 0), rules_text(spec, 1),
             next(f.content for f in firewall.render_witness(spec)
                  if f.path == firewall.RULES_PATH), rules_text(m2l_three, 2)]
    for text in texts:
        r = subprocess.run(["nft", "-c", "-f", "-"], input=text, text=True,
                           capture_output=True, check=False)
        if r.returncode != 0 and "Operation not permitted" in r.stderr:
            pytest.skip("nft -c needs CAP_NET_ADMIN")
        assert r.returncode == 0, r.stderr
        # A minimal Debian has no /etc/protocols (no netbase): no name of it
        # may be in the rules (seen: "Could not resolve protocol name").
        if os.geteuid() != 0:
            continue  # hiding the file takes a mount namespace
        bare = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind /dev/null "
                               "/etc/protocols && nft -c -f -"], input=text, text=True,
                              capture_output=True, check=False)
        assert bare.returncode == 0, bare.stderr
