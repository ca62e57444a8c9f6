"""Changing one's own password: the current one asked first and throttled,
the new one checked, every other session and token ended, this one kept."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from roombook.throttle import FREE
from roombook.web_account import new_password_problem

from tests.roombook.conftest import PASSWORD, token_for
from tests.roombook.test_web import csrf, signed_in

NEW = "a new and longer passphrase"


@pytest.mark.parametrize(("new", "again", "words"), [
    ("short", "short", "10 to 1024"), (NEW, NEW + "!", "differ"), (PASSWORD, PASSWORD, "current"),
])
def test_a_new_password_that_will_not_do_is_said_why(new: str, again: str, words: str) -> None:
    assert words in (new_password_problem(new, again, PASSWORD) or "")


def change(client: FlaskClient, current: str, new: str = NEW, again: str | None = None
           ) -> tuple[int, str]:
    token = csrf(client.get("/account").data)
    r = client.post("/account/password", data={"csrf_token": token, "current": current,
                                               "new": new, "again": new if again is None
                                               else again}, follow_redirects=True)
    return r.status_code, r.data.decode()


def test_changing_my_password_ends_my_other_sessions_and_keeps_this_one(
        app: Flask, client: FlaskClient) -> None:
    other_browser = signed_in(app)
    token = token_for(client)
    time.sleep(1.1)  # sessions and tokens carry whole seconds
    me = signed_in(app)
    status, page = change(me, PASSWORD)
    assert status == 200 and "Password changed" in page
    assert me.get("/bookings").status_code == 200  # this session kept
    assert other_browser.get("/bookings").status_code == 302  # to the sign-in
    assert client.get("/api/bookings", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401
    assert client.post("/api/login", json={"email": "alice@example.com",
                                           "password": PASSWORD}).status_code == 401
    assert client.post("/api/login", json={"email": "alice@example.com",
                                           "password": NEW}).status_code == 200


def test_a_wrong_current_password_changes_nothing_and_is_throttled(
        app: Flask, client: FlaskClient) -> None:
    me = signed_in(app)
    assert change(me, "not my password")[0] == 401
    assert change(me, PASSWORD, again="something else entirely")[0] == 400
    for _ in range(FREE - 1):
        assert change(me, "not my password")[0] == 401
    status, page = change(me, PASSWORD)
    assert status == 429 and "try again" in page  # even the right one waits its turn
    unchanged = client.post("/api/login", headers={"X-Forwarded-For": "198.51.100.5"},
                            json={"email": "alice@example.com", "password": PASSWORD})
    assert unchanged.status_code == 200  # the old password still works, from elsewhere
