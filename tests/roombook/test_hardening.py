"""roombook against an attacker on the same network: redirects only inside
the site, the usual headers, sign-in throttling, sign-out that ends every
token, and accounts only for email addresses."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from roombook.pages import safe_next
from roombook.throttle import FREE, FREE_SOURCE, MAX_WAIT_S, wait_s

from tests.roombook.conftest import PASSWORD, token_for
from tests.roombook.test_web import csrf, signed_in


@pytest.mark.parametrize(("target", "kept"), [
    ("/rooms/2?date=2026-12-01", True),
    ("/bookings", True),
    ("//evil.example", False),
    ("/\t/evil.example", False),  # /%09/evil.example once decoded: browsers drop the tab
    ("/\\evil.example", False),
    ("/ /evil.example", False),
    ("https://evil.example/", False),
    ("javascript:alert(1)", False),
    ("", False),
])
def test_after_sign_in_only_a_path_of_this_site(target: str, kept: bool) -> None:
    assert (safe_next(target) == target) is kept


def test_the_sign_in_form_does_not_redirect_off_site(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    c = app.test_client()
    token = csrf(c.get("/login").data)
    r = c.post("/login?next=/%09/evil.example", data={
        "email": "alice@example.com", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_pages_and_the_api_carry_the_security_headers(client: FlaskClient) -> None:
    for path in ("/login", "/api/openapi.json", "/nowhere"):
        h = client.get(path).headers
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
        assert "script-src 'self'" in h["Content-Security-Policy"]
        assert (h["X-Frame-Options"], h["X-Content-Type-Options"]) == ("DENY", "nosniff")


@pytest.mark.parametrize(("failures", "since", "wait"), [
    (FREE - 1, 0, 0), (FREE, 0, 1), (FREE + 3, 0, 8), (FREE + 3, 5, 3), (FREE + 30, 0, MAX_WAIT_S),
    (FREE + 30, MAX_WAIT_S + 1, 0),
])
def test_the_wait_doubles_and_is_capped(failures: int, since: float, wait: float) -> None:
    assert wait_s(failures, since) == wait


def test_failed_sign_ins_are_throttled_per_account_then_cleared(client: FlaskClient) -> None:
    bad = {"email": "alice@example.com", "password": "wrong password!"}
    assert [client.post("/api/login", json=bad).status_code for _ in range(FREE)] == [401] * FREE
    start = time.monotonic()
    refused = client.post("/api/login", json={**bad, "password": PASSWORD})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert time.monotonic() - start < 0.05  # refused before any password hash is computed
    time.sleep(1.1)  # the first wait is one second
    assert client.post("/api/login", json={**bad, "password": PASSWORD}).status_code == 200
    assert client.post("/api/login", json=bad).status_code == 401  # the count starts again


def test_failures_elsewhere_never_lock_a_person_out(client: FlaskClient) -> None:
    """An attacker's failures against alice's account, from its address, make
    only the attacker wait: alice, from hers, signs in at once."""
    attacker = {"X-Forwarded-For": "203.0.113.66"}
    bad = {"email": "alice@example.com", "password": "wrong password!"}
    codes = [client.post("/api/login", headers=attacker, json=bad).status_code
             for _ in range(FREE + 3)]
    assert codes[:FREE] == [401] * FREE and 429 in codes[FREE:]
    start = time.monotonic()
    mine = client.post("/api/login", headers={"X-Forwarded-For": "198.51.100.20"},
                       json={**bad, "password": PASSWORD})
    assert mine.status_code == 200, mine.json
    assert time.monotonic() - start < 1.0  # no wait of the attacker's


def test_signing_out_ends_every_token_and_session(app: Flask, client: FlaskClient) -> None:
    token = token_for(client)
    web = signed_in(app)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/bookings", headers=auth).status_code == 200
    time.sleep(1.1)  # tokens carry whole seconds: one made in the sign-out's second survives
    assert client.post("/api/logout", headers=auth).status_code == 200
    assert client.get("/api/bookings", headers=auth).status_code == 401
    assert web.get("/bookings").status_code == 302  # the browser's session ended too
    assert client.get("/api/bookings", headers={
        "Authorization": f"Bearer {token_for(client)}"}).status_code == 200  # a new one works


def test_add_user_wants_an_email_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from roombook.cli import main

    monkeypatch.setenv("ROOMBOOK_NEW_PASSWORD", "long enough password")
    r = CliRunner().invoke(main, ["add-user", "not-an-address", "Somebody"])
    assert r.exit_code != 0 and "not an email address" in r.output


def test_failed_sign_ins_are_throttled_per_address_across_accounts(client: FlaskClient) -> None:
    """Guessing through many accounts from one address waits as well (behind
    Apache, the address the proxy appended last)."""
    via = {"X-Forwarded-For": "203.0.113.7"}
    for i in range(FREE_SOURCE):
        assert client.post("/api/login", headers=via, json={
            "email": f"nobody{i}@example.com", "password": "x"}).status_code == 401
    assert client.post("/api/login", headers=via, json={
        "email": "alice@example.com", "password": PASSWORD}).status_code == 429
    assert client.post("/api/login", headers={"X-Forwarded-For": "198.51.100.9"}, json={
        "email": "alice@example.com", "password": PASSWORD}).status_code == 200
