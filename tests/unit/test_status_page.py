"""The status page (pure rendering, and who may see it through the API) and
the agent's journal of decisions and promotions."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from typing import Any

from hapair import tls
from hapair.agent.api import ui
from hapair.agent.api.page import render
from hapair.agent.node.journal import Journal
from hapair.model import report
from hapair.model.roles import Role
from hapair.model.status import NodeStatus
from hapair.secrets import read_token
from tests.unit.test_agent_api import TOKEN, served  # noqa: F401 - the shared fixture
from tests.unit.test_ops_report import node

PEERS = {"node1": "node2", "node2": "node1"}


def page(statuses: list[NodeStatus]) -> str:
    return render("rooms", "10.54.0.100", statuses, PEERS, "node1", 1_800_000_000.0)


def test_a_healthy_pair_says_who_takes_the_bookings_and_where_the_vip_is() -> None:
    promoted = {"at": 1_799_999_000.0, "took_s": 0.41, "why": "node1 is lost: promoting"}
    text = page([node("node1", read_only=False, holds_vip=True, role="primary",
                      app_ok=True, apache_ok=True, peer_paths=["interconnect", "public"],
                      semi_master_on=True, semi_clients=1),
                 node("node2", promotions=[promoted], app_ok=True, apache_ok=True,
                      peer_paths=["interconnect"], io_running="Yes")])
    assert 'class="banner good">Healthy: node1 takes the bookings' in text
    assert '<strong id="vip-holder">node1</strong>' in text
    assert "waits for 1" in text and "interconnect, public" in text
    assert ("node2 became the primary, writes open 0.41 s after it decided to: node1 is lost: "
            "promoting") in text
    assert '<meta http-equiv="refresh" content="2">' in text and "<script" not in text


def test_problems_are_shown_and_an_unreachable_peer_is_named() -> None:
    text = page([node("node1", read_only=False, role="primary (writes paused)",
                      problem=True, reason="standby lost", condition="standby-lost"),
                 NodeStatus("node2", None, "its agent does not answer node1")])
    assert 'class="banner bad"' in text and "no node holds the VIP" in text
    assert "no status: its agent does not answer node1" in text
    assert "hapair degrade SPEC" in text  # the hint
    assert "none remembered" in text


def test_every_value_is_escaped() -> None:
    text = page([node("node1", reason="<img src=x onerror=alert(1)>", problem=True,
                      history=[{"at": 1.0, "role": "replica", "reason": "<b>x</b>",
                                "actions": ["<i>"]}])])
    assert "<img" not in text and "<b>x" not in text and "<i>" not in text
    assert "&lt;img src=x" in text and "&lt;b&gt;x&lt;/b&gt;" in text


def test_the_journal_times_a_promotion_from_leaving_the_replica_role() -> None:
    j = Journal()
    j.role_changed(100.0, Role.REPLICA, Role.CANDIDATE, "node1 is lost")
    j.role_changed(100.2, Role.CANDIDATE, Role.PROMOTING, "promoting")
    j.role_changed(100.7, Role.PROMOTING, Role.PRIMARY, "open")
    j.role_changed(200.0, Role.PRIMARY, Role.PRIMARY_PAUSED, "standby lost")
    j.role_changed(201.0, Role.PRIMARY_PAUSED, Role.PRIMARY, "standby back")  # not a promotion
    j.role_changed(300.0, Role.REPLICA, Role.CANDIDATE, "lost again")
    j.role_changed(300.5, Role.CANDIDATE, Role.REPLICA, "the peer is back")  # abandoned
    j.role_changed(400.0, Role.PROMOTING, Role.PRIMARY, "open")  # no start seen: not timed
    promotions = j.recent(10).promotions
    assert promotions == [{"at": 100.7, "took_s": 0.7, "why": "node1 is lost"}]


def test_the_journal_keeps_the_last_decisions() -> None:
    j = Journal(decisions=3)
    for i in range(5):
        j.decided(float(i), Role.REPLICA, f"r{i}", [])
    decisions = j.recent(2).decisions
    assert [d["reason"] for d in decisions] == ["r3", "r4"]


def test_a_self_fence_over_its_budget_says_so() -> None:
    """The measured terms of the timing inequality (spec/lease.py) as the
    status page and `hapair status` show them."""
    j = Journal()
    j.self_fenced(100.0, "lease-watch", 0.0071, 0.07, "after the lease's end")
    j.self_fenced(200.0, "stop-hook", 0.31, 0.25, "(watchdog: the application stopped first)")
    entries = j.recent(1).self_fences
    assert [e["took_s"] for e in entries] == [0.007, 0.31]
    assert "OVER" not in report.self_fence_line("node1", entries[0])
    assert report.self_fence_line("node1", entries[1]) == (
        "node1's stop-hook closed its database 0.310s (watchdog: the application stopped "
        "first) (budget 0.25s, OVER ITS BUDGET)")


def test_basic_passwords() -> None:
    def basic(text: str) -> str:
        return "Basic " + base64.b64encode(text.encode()).decode()
    assert ui.basic_password(basic("anyone:s3cret")) == "s3cret"
    assert ui.basic_password(basic("anyone:a:b")) == "a:b"
    assert ui.basic_password(basic("no-colon")) is None
    assert ui.basic_password("Basic !!!") is None
    assert ui.basic_password("Bearer abc") is None


def _get(base: str, ca: str, password: str | None) -> tuple[int, dict[str, str], str]:
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(
            f"operator:{password}".encode()).decode()
    req = urllib.request.Request(base + "/", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=3, context=tls.client_context(ca_pem=ca)) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_the_page_needs_the_read_credential(served: Any, monkeypatch: Any) -> None:  # noqa: F811
    base, ca, _ = served
    monkeypatch.setattr(ui, "html", lambda agent: "<p>the page</p>")
    code, headers, _ = _get(base, ca, None)
    assert code == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
    assert _get(base, ca, "wrong")[0] == 401
    code, headers, body = _get(base, ca, read_token(TOKEN))
    assert code == 200 and body == "<p>the page</p>"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
