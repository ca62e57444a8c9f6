"""roombook against an attacker on the same network: redirects only inside
the site, the usual headers, sign-in throttling, sign-out that ends every
token, and accounts only for email addresses."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from roombook.context import safe_next
from roombook.models import User
from roombook.throttle import FREE, FREE_SOURCE, MAX_WAIT_S, wait_s
from sqlalchemy import select

from roombook import auth
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


def checks_counted(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The stored hashes each password check is given, from now on."""
    checked: list[str | None] = []
    real = auth.check_password

    def spy(stored: str | None, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth, "check_password", spy)
    return checked


def test_failed_sign_ins_are_throttled_per_account_then_cleared(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {"email": "alice@example.com", "password": "wrong password!"}
    assert [client.post("/api/login", json=bad).status_code for _ in range(FREE)] == [401] * FREE
    checked = checks_counted(monkeypatch)
    refused = client.post("/api/login", json={**bad, "password": PASSWORD})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert checked == []  # refused before any password hash is computed
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
    mine = client.post("/api/login", headers={"X-Forwarded-For": "198.51.100.20"},
                       json={**bad, "password": PASSWORD})
    assert mine.status_code == 200, mine.json  # a wait of the attacker's would be a 429


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


def test_one_password_check_at_a_time_on_a_host(tmp_path: Path) -> None:
    """A second check waits for the first (other processes' included: each
    opening of the gate is its own lock), and past its wait is refused."""
    gate = str(tmp_path / "gate")
    with (auth.one_check_at_a_time(gate, 1.0), pytest.raises(auth.Busy),
          auth.one_check_at_a_time(gate, 0.05)):
        pass
    with auth.one_check_at_a_time(gate, 0.05):
        pass  # free again once the first has ended


def test_a_sign_in_with_no_turn_to_check_is_refused_as_busy(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    monkeypatch.setattr(auth, "_GATE", gate)
    monkeypatch.setattr(auth, "CHECK_WAIT_S", 0.05)
    with auth.one_check_at_a_time(gate, 1.0):
        busy = client.post("/api/login", json={"email": "alice@example.com",
                                               "password": PASSWORD})
    assert busy.status_code == 503
    assert client.post("/api/login", json={"email": "alice@example.com",
                                           "password": PASSWORD}).status_code == 200


def test_a_hash_of_older_settings_is_made_again_at_sign_in(app: Flask,
                                                           client: FlaskClient) -> None:
    maker = app.extensions["roombook"].maker
    with maker.begin() as s:
        alice = s.scalar(select(User).where(User.email == "alice@example.com"))
        alice.password_hash = PasswordHasher().hash(PASSWORD)  # argon2-cffi's default
        old = alice.password_hash
    assert auth.needs_rehash(old)
    assert client.post("/api/login", json={"email": "alice@example.com",
                                           "password": PASSWORD}).status_code == 200
    with maker() as s:
        new = s.scalar(select(User.password_hash).where(User.email == "alice@example.com"))
    assert new != old and not auth.needs_rehash(new)
    assert client.post("/api/login", json={"email": "alice@example.com",
                                           "password": PASSWORD}).status_code == 200
