"""Booking on someone's behalf: an administrator, or a person given the
right (an assistant), books for another; both names are on the booking;
the person and the one who booked may both change or cancel it."""

from __future__ import annotations

import re
import uuid

from flask import Flask
from flask.testing import FlaskClient
from roombook.models import User
from sqlalchemy import select

from tests.roombook.conftest import future_day, token_for
from tests.roombook.test_web import csrf, signed_in


def user_id(app: Flask, email: str) -> int:
    with app.extensions["roombook"].maker() as s:
        return int(s.scalar(select(User.id).where(User.email == email)))


def book_for(client: FlaskClient, for_user: int, start: str = "09:00") -> tuple[int, str]:
    day = future_day(17)
    page = client.get(f"/rooms/2?date={day}").data
    key = re.search(rb'name="key" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    r = client.post("/rooms/2/book", data={
        "csrf_token": csrf(page), "key": key, "date": day, "start": start, "end": "10:00",
        "title": "For Bob", "for_user": str(for_user)}, follow_redirects=True)
    return r.status_code, r.data.decode()


def test_an_administrator_books_for_someone_and_both_see_it(app: Flask) -> None:
    bob = user_id(app, "bob@example.com")
    admin = signed_in(app, "admin@example.com")
    assert 'name="for_user"' in admin.get(f"/rooms/2?date={future_day(17)}").data.decode()
    status, page = book_for(admin, bob)
    assert status == 200 and "Booked: 09:00-10:00" in page and "for Bob" in page
    mine = signed_in(app, "bob@example.com").get("/bookings").data.decode()
    assert "For Bob" in mine and "booked by Admin" in mine
    cancel = re.search(r'href="(/bookings/\d+/cancel)"', page).group(1)  # type: ignore[union-attr]
    assert admin.get(cancel).status_code == 200  # the one who booked may cancel it


def test_a_person_without_the_right_books_only_for_themselves(app: Flask) -> None:
    bob = user_id(app, "bob@example.com")
    alice = signed_in(app)
    assert 'name="for_user"' not in alice.get(f"/rooms/2?date={future_day(17)}").data.decode()
    status, page = book_for(alice, bob)
    assert status == 400 and "for: you may book only for yourself" in page


def test_an_assistant_given_the_right_books_for_others(app: Flask) -> None:
    with app.extensions["roombook"].maker.begin() as s:
        s.scalar(select(User).where(User.email == "alice@example.com")).books_for_others = True
    status, page = book_for(signed_in(app), user_id(app, "bob@example.com"), "08:00")
    assert status == 200 and "for Bob" in page


def test_the_api_books_for_someone_when_allowed(app: Flask, client: FlaskClient) -> None:
    bob = user_id(app, "bob@example.com")
    body = {"room_id": 3, "date": future_day(18), "start": "11:00", "end": "12:00",
            "for_user_id": bob}
    admin = {"Authorization": f"Bearer {token_for(client, 'admin@example.com')}",
             "Idempotency-Key": uuid.uuid4().hex}
    r = client.post("/api/bookings", headers=admin, json=body)
    assert r.status_code == 201, r.json
    assert r.json["user_id"] == bob and r.json["booked_by"] == user_id(  # type: ignore[index]
        app, "admin@example.com")
    alice = {"Authorization": f"Bearer {token_for(client)}", "Idempotency-Key": uuid.uuid4().hex}
    r = client.post("/api/bookings", headers=alice, json={**body, "start": "12:00",
                                                           "end": "13:00"})
    assert r.status_code == 403 and "books for others" in r.json["message"]  # type: ignore[index]
    r = client.post("/api/bookings", headers={**admin, "Idempotency-Key": uuid.uuid4().hex},
                    json={**body, "start": "13:00", "end": "14:00", "for_user_id": 999})
    assert r.status_code == 400 and "no person 999" in r.json["message"]  # type: ignore[index]
