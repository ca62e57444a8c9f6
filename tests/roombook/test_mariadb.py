"""roombook on a real MariaDB: migrations, 50 racing bookings, read_only."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from flask.testing import FlaskClient
from roombook.db import make_engine, upgrade, writable
from roombook.models import Booking, SiteRules, User
from roombook.rules import Rules, checkin_window, due_cut
from roombook.slots import SlotRange
from sqlalchemy import select

from roombook import booking as bk
from roombook import checkin, rules_db
from tests.roombook.conftest import PASSWORD, MariaDB, future_day, make_app

T = TypeVar("T")


def call(base: str, path: str, body: dict[str, object] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def at_once(calls: Sequence[Callable[[], T]], timeout: float = 120) -> list[T]:
    """Each call in a thread of its own, all released together by a barrier;
    their answers, in the order they came."""
    barrier = threading.Barrier(len(calls))
    results: list[T] = []
    lock = threading.Lock()

    def one(call_: Callable[[], T]) -> None:
        barrier.wait()
        answer = call_()
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=one, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return results


def signed_in(mariadb: MariaDB, tmp_path: Path) -> tuple[FlaskClient, str]:
    """A test client of roombook on this MariaDB, and alice's API token."""
    client = make_app(mariadb.url(), tmp_path).test_client()
    token = client.post("/api/login", json={"email": "alice@example.com",
                                            "password": PASSWORD}).json["token"]  # type: ignore[index]
    return client, str(token)


def test_migrations_run_twice_on_mariadb(mariadb: MariaDB) -> None:
    upgrade(mariadb.url())
    upgrade(mariadb.url())
    tables = mariadb.root("SHOW TABLES FROM roombook").split()
    assert {"users", "rooms", "bookings", "booked_slots", "alembic_version"} <= set(tables)


def test_fifty_concurrent_requests_one_booking(gunicorn_on_mariadb: str) -> None:
    base = gunicorn_on_mariadb
    tokens = []
    for who in ("alice", "bob"):
        status, body = call(base, "/api/login", {"email": f"{who}@example.com",
                                                 "password": PASSWORD})
        assert status == 200
        tokens.append(str(body["token"]))
    payload = {"room_id": 3, "date": future_day(20), "start": "14:00", "end": "15:30"}

    def one(i: int) -> int:
        headers = {"Authorization": f"Bearer {tokens[i % 2]}", "Idempotency-Key": uuid.uuid4().hex}
        return call(base, "/api/bookings", payload, headers)[0]

    results = at_once([partial(one, i) for i in range(50)])
    assert sorted(results) == [201] + [409] * 49


def test_read_only_database_refuses_the_app_cleanly(mariadb: MariaDB, tmp_path: Path) -> None:
    client, token = signed_in(mariadb, tmp_path)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    payload = {"room_id": 1, "date": future_day(40), "start": "09:00", "end": "10:00"}
    mariadb.root("SET GLOBAL read_only = ON")
    try:
        assert not writable(make_engine(mariadb.url()))
        assert client.get("/readyz").status_code == 503
        r = client.post("/api/bookings", json=payload, headers=headers)
        assert r.status_code == 503 and "retry" in r.json["message"]  # type: ignore[index]
    finally:
        mariadb.root("SET GLOBAL read_only = OFF")
    retry = client.post("/api/bookings", json=payload, headers=headers)
    assert retry.status_code == 201


def test_a_read_only_copy_checks_no_password(mariadb: MariaDB, tmp_path: Path) -> None:
    """A copy that cannot count a sign-in (a replica) answers a right and a
    wrong password alike, 503, checking neither: no uncounted guesses, no
    oracle. Once writable, the right one signs in."""
    client = make_app(mariadb.url(), tmp_path).test_client()
    mariadb.root("SET GLOBAL read_only = ON")
    try:
        answers = [client.post("/api/login", json={"email": "alice@example.com",
                                                   "password": pw})
                   for pw in (PASSWORD, "wrong password!")]
        assert [a.status_code for a in answers] == [503, 503]
        assert answers[0].json == answers[1].json
    finally:
        mariadb.root("SET GLOBAL read_only = OFF")
    assert client.post("/api/login", json={"email": "alice@example.com",
                                           "password": PASSWORD}).status_code == 200


def test_a_retry_is_not_confirmed_from_a_read_only_copy(mariadb: MariaDB, tmp_path: Path) -> None:
    """A booking committed on a primary that was then fenced (its copy may be
    discarded by the failover) is not confirmed to the retrying client there."""
    client, token = signed_in(mariadb, tmp_path)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    payload = {"room_id": 2, "date": future_day(41), "start": "09:00", "end": "10:00"}
    assert client.post("/api/bookings", json=payload, headers=headers).status_code == 201
    mariadb.root("SET GLOBAL read_only = ON")
    try:
        r = client.post("/api/bookings", json=payload, headers=headers)
        assert r.status_code == 503 and "retry" in r.json["message"]  # type: ignore[index]
    finally:
        mariadb.root("SET GLOBAL read_only = OFF")
    assert client.post("/api/bookings", json=payload, headers=headers).status_code == 200


def test_fifty_concurrent_moves_into_one_slot_one_wins(gunicorn_on_mariadb: str) -> None:
    base = gunicorn_on_mariadb
    status, body = call(base, "/api/login", {"email": "alice@example.com", "password": PASSWORD})
    assert status == 200
    auth = {"Authorization": f"Bearer {body['token']}"}
    ids = []
    for i in range(50):  # fifty bookings apart: room 4, one a day
        status, b = call(base, "/api/bookings", {"room_id": 4, "date": future_day(60 + i),
                                                 "start": "08:00", "end": "09:00"},
                         {**auth, "Idempotency-Key": uuid.uuid4().hex})
        assert status == 201, b
        ids.append(b["id"])
    target = {"room_id": 3, "date": future_day(59), "start": "16:00", "end": "17:00"}

    def move(booking_id: object) -> int:
        req = urllib.request.Request(f"{base}/api/bookings/{booking_id}", method="PATCH",
                                     data=json.dumps(target).encode(),
                                     headers={"Content-Type": "application/json", **auth})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return e.code

    results = at_once([partial(move, i) for i in ids])
    assert sorted(results) == [200] + [409] * 49
    _, mine = call(base, "/api/bookings", headers=auth)
    assert isinstance(mine, list)
    moved = [b for b in mine if b["room_id"] == 3 and b["date"] == target["date"]]
    assert len(moved) == 1 and len([b for b in mine if b["room_id"] == 4]) == 49


def test_fifty_concurrent_series_into_the_same_slots_one_wins(gunicorn_on_mariadb: str) -> None:
    """Fifty weekly series over the same four dates, half skipping taken
    dates: one books all four, every other is refused, no slot held twice."""
    base = gunicorn_on_mariadb
    status, body = call(base, "/api/login", {"email": "bob@example.com", "password": PASSWORD})
    assert status == 200
    auth = {"Authorization": f"Bearer {body['token']}"}
    wanted = {"room_id": 1, "date": future_day(120), "start": "17:00", "end": "18:00",
              "repeat": "weekly", "until": future_day(120 + 21)}

    def one(i: int) -> tuple[int, object]:
        payload = {**wanted, "on_conflict": "skip" if i % 2 else "none"}
        req = urllib.request.Request(f"{base}/api/series", method="POST",
                                     data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Idempotency-Key": uuid.uuid4().hex, **auth})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return int(r.status), json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    results = at_once([partial(one, i) for i in range(50)], timeout=180)
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * 49, codes
    won = next(answer for code, answer in results if code == 201)
    assert isinstance(won, dict) and len(won["booked"]) == 4 and won["skipped"] == []
    _, mine = call(base, "/api/bookings", headers=auth)
    assert isinstance(mine, list)
    held = [(b["date"], b["start"]) for b in mine if b["room_id"] == 1 and b["start"] == "17:00"]
    assert len(held) == len(set(held)) == 4


def test_the_drills_clear_keeps_every_other_booking_guarded(mariadb: MariaDB,
                                                            tmp_path: Path) -> None:
    """The drills clear their own bookings when they reach the booking horizon;
    a booking of anyone else keeps its slots (the first version deleted every
    slot row, and the next drill booked a test's slot a second time)."""
    from hapair.drill.space import CLEAR_SQL

    client, token = signed_in(mariadb, tmp_path)
    day = future_day(42)

    def book(start: str, end: str, key: str) -> int:
        return client.post("/api/bookings", json={"room_id": 3, "date": day, "start": start,
                                                  "end": end},
                           headers={"Authorization": f"Bearer {token}",
                                    "Idempotency-Key": key}).status_code

    assert book("09:00", "10:00", "a-person-s-own-key") == 201
    assert book("10:00", "11:00", uuid.uuid4().hex) == 201  # as a drill books
    mariadb.root(f"USE roombook; {CLEAR_SQL}")
    assert book("09:30", "10:00", uuid.uuid4().hex) == 409  # still held
    assert book("10:00", "11:00", uuid.uuid4().hex) == 201  # the drill's: freed
    kept = mariadb.root("SELECT COUNT(*) FROM roombook.bookings "
                        "WHERE idempotency_key = 'a-person-s-own-key'")
    assert kept.split()[-1] == "1"


def test_forty_wrong_passwords_at_once_check_only_the_free_ones(gunicorn_on_mariadb: str) -> None:
    """Judged and counted in one locked transaction: of forty wrong sign-ins
    at once from one address, only FREE (and one a second later) have their
    password hashed (401); the rest wait unchecked (429), none is refused
    as unavailable (the count rows are made before they are locked).
    Judged apart from the count, all forty were hashed at once (the
    login-flood drill: 2.4 s without a booking)."""
    from roombook.throttle import FREE

    base = gunicorn_on_mariadb

    def one(i: int) -> int:
        return call(base, "/api/login", {"email": "bob@example.com",
                                         "password": f"wrong guess {i}"},
                    {"X-Forwarded-For": "203.0.113.40"})[0]

    results = at_once([partial(one, i) for i in range(40)])
    # The waits start at one second: a try arriving a second into the burst
    # (forty tries take that long) is checked too, as the schedule says.
    counts = {c: results.count(c) for c in set(results)}
    assert set(counts) == {401, 429} and FREE <= counts[401] <= FREE + 2, counts


def test_twenty_bookings_of_one_person_at_once_keep_the_weekly_count(mariadb: MariaDB,
                                                                    tmp_path: Path) -> None:
    """Three bookings a week per person: twenty of alice's, in twenty free
    rooms and days of one week, sent together: three are booked, seventeen
    refused in words (the person's row locked while counted; counted without
    the lock, tried once, more than three were booked)."""
    app = make_app(mariadb.url(), tmp_path)
    maker = app.extensions["roombook"].maker
    with maker.begin() as s:
        s.merge(SiteRules(id=1, per_week=3, hours="", updated_at=datetime(2026, 1, 1)))
    rules_db.forget(maker)
    try:
        token = app.test_client().post("/api/login", json={
            "email": "alice@example.com", "password": PASSWORD}).json["token"]  # type: ignore[index]
        monday = date.fromisoformat(future_day(50))
        monday -= timedelta(days=monday.weekday())

        def one(i: int) -> int:
            r = app.test_client().post("/api/bookings", json={
                "room_id": i % 4 + 1, "date": (monday + timedelta(days=i // 4)).isoformat(),
                "start": "16:00", "end": "17:00"}, headers={
                "Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})
            return r.status_code

        results = at_once([partial(one, i) for i in range(20)])
        assert sorted(results) == [201] * 3 + [422] * 17, results
    finally:
        with maker.begin() as s:
            s.execute(SiteRules.__table__.delete())
        rules_db.forget(maker)


def _due_race(mariadb: MariaDB, tmp_path: Path, minute: int) -> tuple[list[str], str]:
    """alice's booking 10:00-12:00 in room 3, check-in within 15 minutes; at
    10:<minute> ten check-ins of hers and ten bookings of bob's for
    10:30-11:00 sent together. What each got, and her booking's status."""
    app = make_app(mariadb.url(), tmp_path)
    st = app.extensions["roombook"]
    maker, settings = st.maker, st.settings
    day = date.fromisoformat(future_day(60 + minute))
    rules = Rules(checkin_minutes=15)
    now = datetime(day.year, day.month, day.day, 10, minute, tzinfo=settings.tz).astimezone(UTC)
    naive = now.replace(tzinfo=None)
    with maker() as s:
        alice = s.scalar(select(User).where(User.email == "alice@example.com"))
        bob_id = s.scalar(select(User.id).where(User.email == "bob@example.com"))
    mine = bk.book(maker, user_id=alice.id, room_id=3, rng=SlotRange(day, 4, 8), title="Mine",
                   key=uuid.uuid4().hex, now=naive).booking

    def arrive() -> str:
        try:
            checkin.check_in(maker, booking_id=mine.id, user=alice, now=now,
                        window=lambda b: checkin_window(rules, settings, b.day, b.start_slot,
                                                             b.created_at))
        except checkin.TooLate:
            return "too late"
        return "checked in"

    def take() -> str:
        try:
            bk.book(maker, user_id=bob_id, room_id=3, rng=SlotRange(day, 5, 6), title="Bob",
                    key=uuid.uuid4().hex, now=naive, due=due_cut(rules, settings, now))
        except bk.Conflict:
            return "conflict"
        return "booked"

    results = at_once([arrive] * 10 + [take] * 10)
    with maker() as s:
        status = s.scalar(select(Booking.status).where(Booking.id == mine.id))
    return results, str(status)


def test_a_late_check_in_and_bookings_of_the_released_slots_at_once(mariadb: MariaDB,
                                                                    tmp_path: Path) -> None:
    """Twenty minutes in (check-in within fifteen): every check-in is too
    late, her booking is released, and exactly one of bob's ten takes the
    slot: a late check-in never brings a released booking back."""
    results, status = _due_race(mariadb, tmp_path, 20)
    assert sorted(results) == ["booked"] + ["conflict"] * 9 + ["too late"] * 10, results
    assert status == "released"


def test_a_check_in_in_time_keeps_the_room_whatever_else_is_sent(mariadb: MariaDB,
                                                                 tmp_path: Path) -> None:
    results, status = _due_race(mariadb, tmp_path, 10)
    assert sorted(results) == ["checked in"] * 10 + ["conflict"] * 10, results
    assert status == "confirmed"
