"""The JSON API on SQLite: booking, conflicts, retries, bad input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.roombook.conftest import future_day, token_for

DAY = future_day()


def booking(client: FlaskClient, headers: dict[str, str], key: str | None = None,
            **fields: Any) -> Any:
    payload = {"room_id": 1, "date": DAY, "start": "09:00", "end": "10:00", **fields}
    return client.post("/api/bookings", json=payload,
                       headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex})


def test_sign_in_required(client: FlaskClient) -> None:
    r = client.get("/api/rooms")
    assert r.status_code == 401 and r.json["error"] == "unauthorized"
    bad = client.get("/api/rooms", headers={"Authorization": "Bearer forged.token.here"})
    assert bad.status_code == 401


def test_wrong_password(client: FlaskClient) -> None:
    r = client.post("/api/login", json={"email": "alice@example.com", "password": "nope"})
    assert r.status_code == 401


def test_rooms_and_availability(client: FlaskClient, alice: dict[str, str]) -> None:
    rooms = client.get("/api/rooms", headers=alice).json
    assert [r["name"] for r in rooms] == ["Ada", "Babbage", "Curie", "Darwin"]
    avail = client.get(f"/api/rooms/1/availability?date={DAY}", headers=alice).json
    assert avail["timezone"] == "Europe/Paris" and len(avail["slots"]) == 24
    assert all(s["free"] for s in avail["slots"])


def test_book_then_the_slots_are_taken(client: FlaskClient, alice: dict[str, str]) -> None:
    r = booking(client, alice, start="09:00", end="10:30", title="Standup")
    assert r.status_code == 201
    b = r.json
    assert (b["start"], b["end"], b["status"], b["replayed"]) == ("09:00", "10:30", "confirmed",
                                                                   False)
    assert b["starts_at"].endswith("+01:00")  # explicit offset, Paris in winter
    slots = client.get(f"/api/rooms/1/availability?date={DAY}", headers=alice).json["slots"]
    assert [s["start"] for s in slots if not s["free"]] == ["09:00", "09:30", "10:00"]
    assert client.get("/api/bookings", headers=alice).json[0]["id"] == b["id"]


def test_overlap_is_a_clean_conflict(client: FlaskClient, alice: dict[str, str]) -> None:
    assert booking(client, alice, start="09:00", end="10:00").status_code == 201
    bob = {"Authorization": f"Bearer {token_for(client, 'bob@example.com')}"}
    for start, end in (("09:30", "10:30"), ("08:00", "09:30"), ("09:00", "10:00")):
        r = booking(client, bob, start=start, end=end)
        assert r.status_code == 409 and r.json["error"] == "conflict"
    assert booking(client, bob, start="10:00", end="11:00").status_code == 201  # adjacent
    assert booking(client, bob, room_id=2).status_code == 201  # another room


def test_a_retry_returns_the_same_booking(client: FlaskClient, alice: dict[str, str]) -> None:
    key = uuid.uuid4().hex
    first = booking(client, alice, key=key)
    again = booking(client, alice, key=key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json["id"] == first.json["id"] and again.json["replayed"] is True
    assert len(client.get("/api/bookings", headers=alice).json) == 1


def test_a_key_reused_for_another_request(client: FlaskClient, alice: dict[str, str]) -> None:
    key = uuid.uuid4().hex
    assert booking(client, alice, key=key).status_code == 201
    r = booking(client, alice, key=key, start="11:00", end="12:00")
    assert r.status_code == 422 and r.json["error"] == "idempotency_key_reused"


def test_keys_are_per_user(client: FlaskClient, alice: dict[str, str]) -> None:
    key = uuid.uuid4().hex
    assert booking(client, alice, key=key).status_code == 201
    bob = {"Authorization": f"Bearer {token_for(client, 'bob@example.com')}"}
    assert booking(client, bob, key=key, room_id=3).status_code == 201


def test_cancel_frees_the_slots(client: FlaskClient, alice: dict[str, str]) -> None:
    b = booking(client, alice).json
    r = client.delete(f"/api/bookings/{b['id']}", headers=alice)
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert client.delete(f"/api/bookings/{b['id']}", headers=alice).status_code == 200
    assert booking(client, alice).status_code == 201


def test_others_cannot_see_or_cancel(client: FlaskClient, alice: dict[str, str]) -> None:
    b = booking(client, alice).json
    bob = {"Authorization": f"Bearer {token_for(client, 'bob@example.com')}"}
    assert client.get(f"/api/bookings/{b['id']}", headers=bob).status_code == 404
    assert client.delete(f"/api/bookings/{b['id']}", headers=bob).status_code == 404
    admin = {"Authorization": f"Bearer {token_for(client, 'admin@example.com')}"}
    assert client.get(f"/api/bookings/{b['id']}", headers=admin).status_code == 200


BAD = [
    ({"date": "2026-02-30"}, 400, "not a date"),
    ({"start": "10:00", "end": "09:00"}, 400, "not after"),
    ({"date": "2020-01-01"}, 400, "in the past"),
    ({"room_id": 999}, 404, "no room"),
    ({"room_id": "1"}, 400, "room_id"),
    ({"room_id": True}, 400, "room_id"),
    ({"room_id": 2**63}, 400, "room_id"),
    ({"title": "x" * 101}, 400, "title"),
    ({"title": 5}, 400, "title"),
    ({"start": None}, 400, "required"),
    ({"colour": "red"}, 400, "unknown fields"),
    ({"title": "'; DROP TABLE bookings; --"}, 201, ""),
]


@pytest.mark.parametrize(("change", "status", "words"), BAD)
def test_bad_input_is_a_clear_4xx(client: FlaskClient, alice: dict[str, str],
                                  change: dict[str, Any], status: int, words: str) -> None:
    r = booking(client, alice, **change)
    assert r.status_code == status, r.json
    if words:
        assert words in r.json["message"]
    assert client.get("/api/rooms", headers=alice).status_code == 200  # tables intact


def test_missing_or_bad_idempotency_key(client: FlaskClient, alice: dict[str, str]) -> None:
    payload = {"room_id": 1, "date": DAY, "start": "09:00", "end": "10:00"}
    assert client.post("/api/bookings", json=payload, headers=alice).status_code == 400
    short = client.post("/api/bookings", json=payload, headers={**alice, "Idempotency-Key": "x"})
    assert short.status_code == 400 and "Idempotency-Key" in short.json["message"]


def test_not_json(client: FlaskClient, alice: dict[str, str]) -> None:
    r = client.post("/api/bookings", data="room=1", headers={**alice, "Idempotency-Key": "k" * 10})
    assert r.status_code == 400 and "JSON" in r.json["message"]


def test_huge_ids_are_not_found(client: FlaskClient, alice: dict[str, str]) -> None:
    assert client.get(f"/api/bookings/{2**70}", headers=alice).status_code == 404
    assert client.get("/api/rooms/0", headers=alice).status_code == 404


def test_openapi_document(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.") and "/api/bookings" in doc["paths"]


def test_health(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").data == b"ready\n"


def taken_starts(client: FlaskClient, headers: dict[str, str], room: int = 1) -> list[str]:
    slots = client.get(f"/api/rooms/{room}/availability?date={DAY}", headers=headers).json
    return [s["start"] for s in slots["slots"] if not s["free"]]


def test_a_booking_moves_in_one_piece(client: FlaskClient, alice: dict[str, str]) -> None:
    b = booking(client, alice, start="09:00", end="10:00").json
    r = client.patch(f"/api/bookings/{b['id']}", headers=alice,
                     json={"date": DAY, "start": "14:00", "end": "15:30", "title": "Moved"})
    assert r.status_code == 200, r.json
    assert (r.json["start"], r.json["end"], r.json["title"]) == ("14:00", "15:30", "Moved")
    assert taken_starts(client, alice) == ["14:00", "14:30", "15:00"]
    again = client.patch(f"/api/bookings/{b['id']}", headers=alice,
                         json={"date": DAY, "start": "14:00", "end": "15:30"})
    assert again.status_code == 200 and taken_starts(client, alice) == ["14:00", "14:30", "15:00"]
    other = client.patch(f"/api/bookings/{b['id']}", headers=alice, json={"room_id": 2})
    assert other.status_code == 200 and taken_starts(client, alice) == []
    assert taken_starts(client, alice, room=2) == ["14:00", "14:30", "15:00"]


def test_a_move_onto_a_taken_slot_leaves_the_booking_where_it_was(
        client: FlaskClient, alice: dict[str, str]) -> None:
    mine = booking(client, alice, start="09:00", end="10:00").json
    bob = {"Authorization": f"Bearer {token_for(client, 'bob@example.com')}"}
    assert booking(client, bob, start="11:00", end="12:00").status_code == 201
    r = client.patch(f"/api/bookings/{mine['id']}", headers=alice,
                     json={"date": DAY, "start": "10:30", "end": "11:30"})
    assert r.status_code == 409 and r.json["error"] == "conflict"
    assert client.get(f"/api/bookings/{mine['id']}", headers=alice).json["start"] == "09:00"
    assert taken_starts(client, alice) == ["09:00", "09:30", "11:00", "11:30"]


@pytest.mark.parametrize(("change", "status", "words"), [
    ({}, 400, "at least one"), ({"start": "10:00"}, 400, "together"),
    ({"room_id": 99}, 404, "no room"), ({"room_id": True}, 400, "room_id"),
    ({"colour": "red"}, 400, "unknown fields"), ({"title": "x" * 500}, 400, "title"),
])
def test_bad_edits_are_named(client: FlaskClient, alice: dict[str, str],
                             change: dict[str, Any], status: int, words: str) -> None:
    b = booking(client, alice).json
    r = client.patch(f"/api/bookings/{b['id']}", headers=alice, json=change)
    assert r.status_code == status and words in r.json["message"], r.json


def test_only_the_owner_edits_and_never_a_cancelled_booking(
        client: FlaskClient, alice: dict[str, str]) -> None:
    b = booking(client, alice).json
    bob = {"Authorization": f"Bearer {token_for(client, 'bob@example.com')}"}
    assert client.patch(f"/api/bookings/{b['id']}", headers=bob,
                        json={"title": "mine now"}).status_code == 404
    assert client.delete(f"/api/bookings/{b['id']}", headers=alice).status_code == 200
    r = client.patch(f"/api/bookings/{b['id']}", headers=alice, json={"title": "back"})
    assert r.status_code == 409 and r.json["error"] == "cancelled"


def series(client: FlaskClient, headers: dict[str, str], key: str | None = None,
           **fields: Any) -> Any:
    payload = {"room_id": 2, "date": DAY, "start": "13:00", "end": "14:00", "repeat": "weekly",
               "until": future_day(10 + 21), **fields}
    return client.post("/api/series", json=payload,
                       headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex})


def test_a_series_all_or_nothing_then_its_free_dates(client: FlaskClient,
                                                     alice: dict[str, str]) -> None:
    bob = {"Authorization": f"Bearer {token_for(client, 'bob@example.com')}"}
    third = future_day(10 + 14)
    assert booking(client, bob, room_id=2, date=third, start="13:30", end="14:30"
                   ).status_code == 201
    r = series(client, alice, preview=True)
    assert r.status_code == 200 and [d["free"] for d in r.json["dates"]] == [
        True, True, False, True]
    r = series(client, alice)
    assert r.status_code == 409 and third in r.json["message"]
    key = uuid.uuid4().hex
    r = series(client, alice, key=key, on_conflict="skip")
    assert r.status_code == 201 and r.json["skipped"] == [third] and len(r.json["booked"]) == 3
    again = series(client, alice, key=key, on_conflict="skip")
    assert again.status_code == 200 and again.json["replayed"] and again.json["id"] == r.json["id"]
    assert series(client, alice, key=key, start="15:00", end="16:00").status_code == 422
    mine = client.get("/api/bookings", headers=alice).json
    assert sum(1 for b in mine if b["start"] == "13:00" and b["room_id"] == 2) == 3
    # Cancelled from the second date on: one stays.
    second = r.json["booked"][1]
    gone = client.delete(f"/api/series/{r.json['id']}?from={second}", headers=alice)
    assert gone.status_code == 200 and gone.json == {"cancelled": 2}
    assert client.delete(f"/api/series/{r.json['id']}", headers=bob).status_code == 404


@pytest.mark.parametrize(("fields", "words"), [
    ({"repeat": "fortnightly"}, "repeat must be one of"),
    ({"until": "soon"}, "not a date"),
    ({"until": future_day(1)}, "before the first date"),
    ({"repeat": "daily", "until": future_day(300)}, "at most 52 dates"),
    ({"on_conflict": "maybe"}, "on_conflict"),
    ({"every": "week"}, "unknown fields: every"),
])
def test_a_bad_series_is_a_clear_400(client: FlaskClient, alice: dict[str, str],
                                     fields: dict[str, Any], words: str) -> None:
    r = series(client, alice, **fields)
    assert r.status_code == 400 and words in r.json["message"], r.json


def test_a_booking_is_two_statements_and_a_commit(app: Any, client: FlaskClient,
                                                  alice: dict[str, str]) -> None:
    """The booking's own transaction: the booking row (only if its room may
    be booked), its slot rows in one INSERT, the commit. Retries and
    conflicts look further, only when the insert fails."""
    from sqlalchemy import event

    engine = app.extensions["roombook"].engine
    seen: list[str] = []

    def statement(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
        seen.append(sql.split()[0].upper())

    def commit(conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    from roombook.booking import book
    from roombook.context import utcnow
    from roombook.slots import SlotRange

    try:
        from datetime import date
        book(app.extensions["roombook"].maker, user_id=1, room_id=3,
             rng=SlotRange(date.fromisoformat(DAY), 4, 7), title="t", key="k" * 16,
             now=utcnow())
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert seen == ["INSERT", "INSERT", "COMMIT"], seen
