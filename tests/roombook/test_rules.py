"""Booking rules: the pure judgement (each rule, in words), the
administrator's page, the booking form and the API refusing with words, an
administrator booking beyond them, and a series skipping closed days."""

from __future__ import annotations

import re
import uuid
from datetime import date, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from roombook.config import Settings
from roombook.rules import (
    BadRule,
    Closed,
    Rules,
    broken,
    hours_text,
    limit,
    over_quota,
    parse_hours,
    week_of,
)
from roombook.slots import SlotRange
from sqlalchemy.exc import OperationalError

from tests.roombook.conftest import future_day, token_for
from tests.roombook.test_web import csrf, signed_in

S = Settings(secret_key="x" * 32)  # 08:00-20:00 in 30-minute slots
TODAY = date(2027, 3, 1)  # a Monday
WED = date(2027, 3, 3)


def rng(day: date, start: str, end: str) -> SlotRange:
    slot = {f"{8 + i // 2:02d}:{30 * (i % 2):02d}": i for i in range(25)}
    return SlotRange(day, slot[start], slot[end])


def test_no_rules_break_nothing() -> None:
    assert broken(Rules(), rng(WED, "08:00", "20:00"), 1, [], S, TODAY) == []
    assert not Rules().any and over_quota(Rules(), 99) is None


def test_each_rule_says_in_words_what_it_allows() -> None:
    r = Rules(longest_minutes=120, ahead_days=30, hours={2: (time(9), time(17)), 6: None})
    assert broken(r, rng(WED, "09:00", "11:30"), 1, [], S, TODAY) == [
        "a booking lasts at most 2 h (this one 2 h 30 min)"]
    far = WED + timedelta(days=35)  # also a Wednesday
    assert broken(r, rng(far, "09:00", "10:00"), 1, [], S, TODAY) == [
        "rooms are booked at most 30 days ahead (until 2027-03-31)"]
    assert broken(r, rng(WED, "08:30", "09:30"), 1, [], S, TODAY) == [
        "rooms are open on Wednesdays from 09:00 to 17:00"]
    assert broken(r, rng(WED, "16:00", "17:00"), 1, [], S, TODAY) == []  # to the closing time
    assert broken(r, rng(date(2027, 3, 7), "10:00", "11:00"), 1, [], S, TODAY) == [
        "rooms are closed on Sundays"]


def test_closed_days_of_the_site_and_of_one_room() -> None:
    closed = [Closed(WED, None, "Works council"), Closed(WED + timedelta(days=1), 2, "")]
    assert broken(Rules(), rng(WED, "10:00", "11:00"), 1, closed, S, TODAY) == [
        "the site is closed on 2027-03-03 (Works council)"]
    thu = rng(WED + timedelta(days=1), "10:00", "11:00")
    assert broken(Rules(), thu, 1, closed, S, TODAY) == []
    assert broken(Rules(), thu, 2, closed, S, TODAY) == ["this room is closed on 2027-03-04"]


def test_the_weekly_count() -> None:
    r = Rules(per_week=3)
    assert over_quota(r, 2) is None
    assert over_quota(r, 3) == "a person books at most 3 times a week (you have 3 that week)"
    assert over_quota(r, 1, adding=3) is not None  # a daily series' week
    assert week_of(date(2027, 3, 7)) == (TODAY, TODAY + timedelta(days=7))


def test_opening_hours_round_trip_and_bad_ones_name_the_day() -> None:
    text = "mon 09:00-17:00, sat closed"
    assert hours_text(parse_hours(text, S)) == text
    for bad, words in (("funday 09:00-10:00", "'funday' is not a weekday"),
                       ("tue 9-5", "tue '9-5' is not like"), ("wed 17:00-09:00", "opens at"),
                       ("thu 07:00-12:00", "outside the bookable day"),
                       ("fri 09:10-12:00", "30-minute boundaries")):
        with pytest.raises(BadRule, match=words):
            parse_hours(bad, S)
    with pytest.raises(BadRule, match="per_week: a whole number from 1 to 500"):
        limit("per_week", "-3")
    assert limit("per_week", " ") is None
    with pytest.raises(BadRule, match="per_week"):
        limit("per_week", "9" * 5000)  # past Python's digit limit: words, not a 500


def set_rules(app: Flask, **fields: str) -> FlaskClient:
    admin = signed_in(app, "admin@example.com")
    page = admin.get("/admin/rules").data
    form = {"csrf_token": csrf(page), "longest_minutes": "", "ahead_days": "", "per_week": ""}
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        form.update({f"{d}_from": "08:00", f"{d}_to": "20:00"})
    form.update(fields)
    r = admin.post("/admin/rules", data=form, follow_redirects=True)
    assert r.status_code == 200 and "Rules saved" in r.data.decode(), r.data.decode()[-800:]
    return admin


def book(client: FlaskClient, day: str, start: str, end: str, room: int = 1,
         beyond: bool = False) -> tuple[int, str]:
    page = client.get(f"/rooms/{room}?date={day}").data
    key = re.search(rb'name="key" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    data = {"csrf_token": csrf(page), "key": key, "date": day, "start": start, "end": end,
            "title": "Rules"}
    if beyond:
        data["beyond"] = "on"
    r = client.post(f"/rooms/{room}/book", data=data, follow_redirects=True)
    return r.status_code, r.data.decode()


def test_the_form_refuses_in_words_and_an_administrator_may_go_beyond(app: Flask) -> None:
    admin = set_rules(app, longest_minutes="60")
    status, page = book(signed_in(app), future_day(9), "09:00", "11:00")
    assert status == 422 and "Not booked: a booking lasts at most 1 h (this one 2 h)" in page
    assert "Beyond the rules" not in page  # offered to administrators only
    status, page = book(admin, future_day(9), "09:00", "11:00")
    assert status == 422 and "tick Beyond the rules" in page
    assert book(admin, future_day(9), "09:00", "11:00", beyond=True)[0] == 200
    status, page = book(signed_in(app), future_day(9), "13:00", "14:00", beyond=True)
    assert status == 200  # within the rules; a person's "beyond" is not looked at


def test_the_weekly_count_through_the_form_and_the_api(app: Flask, client: FlaskClient) -> None:
    set_rules(app, per_week="2")
    monday = date.fromisoformat(future_day(14))
    monday -= timedelta(days=monday.weekday())
    alice = signed_in(app)
    assert book(alice, monday.isoformat(), "09:00", "10:00")[0] == 200
    assert book(alice, (monday + timedelta(days=1)).isoformat(), "09:00", "10:00")[0] == 200
    status, page = book(alice, (monday + timedelta(days=2)).isoformat(), "09:00", "10:00")
    assert status == 422 and "at most 2 times a week (you have 2 that week)" in page
    auth = {"Authorization": f"Bearer {token_for(client)}", "Idempotency-Key": uuid.uuid4().hex}
    r = client.post("/api/bookings", headers=auth, json={
        "room_id": 2, "date": (monday + timedelta(days=3)).isoformat(), "start": "09:00",
        "end": "10:00"})
    assert r.status_code == 422 and r.json["error"] == "against_rules"  # type: ignore[index]
    r = client.post("/api/bookings", headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    json={"room_id": 2, "date": (monday + timedelta(days=7)).isoformat(),
                          "start": "09:00", "end": "10:00"})
    assert r.status_code == 201  # the next week starts again
    r = client.post("/api/bookings", headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    json={"room_id": 2, "date": (monday + timedelta(days=4)).isoformat(),
                          "start": "09:00", "end": "10:00", "beyond_rules": True})
    assert r.status_code == 403  # alice is no administrator


def test_a_weekly_series_skips_a_closed_day_when_asked(app: Flask) -> None:
    admin = set_rules(app)
    first = date.fromisoformat(future_day(21))
    holiday = first + timedelta(days=7)
    page = admin.get("/admin/rules").data
    r = admin.post("/admin/rules/closed", data={"csrf_token": csrf(page),
                                                "day": holiday.isoformat(), "name": "Holiday"},
                   follow_redirects=True)
    assert r.status_code == 200 and "Closed on" in r.data.decode()
    alice = signed_in(app)
    page = alice.get(f"/rooms/2?date={first}").data
    key = re.search(rb'name="key" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    form = {"csrf_token": csrf(page), "key": key, "date": first.isoformat(), "start": "09:00",
            "end": "10:00", "title": "Weekly", "repeat": "weekly",
            "until": (first + timedelta(days=21)).isoformat()}
    shown = alice.post("/rooms/2/book", data=form).data.decode()
    assert "closed: the site is closed on" in shown and "Book the 3 free dates" in shown
    done = alice.post("/rooms/2/book", data={**form, "confirm": "free"},
                      follow_redirects=True).data.decode()
    assert "Booked 3 dates" in done and "taken or closed" in done


def test_bad_rules_are_refused_naming_the_field_and_nothing_is_saved(app: Flask) -> None:
    admin = set_rules(app, per_week="4")
    page = admin.get("/admin/rules").data
    r = admin.post("/admin/rules", data={"csrf_token": csrf(page), "per_week": "lots",
                                          "wed_from": "17:00", "wed_to": "09:00"})
    assert r.status_code == 400 and "per_week: a whole number" in r.data.decode()
    assert 'name="per_week" min="1" max="500" value="4"' in admin.get(
        "/admin/rules").data.decode()
    assert signed_in(app).get("/admin/rules").status_code in (302, 403, 404)


def test_the_grid_shows_the_slots_the_rules_close() -> None:
    from roombook.grid import Cell, row, runs
    from roombook.rules import closed_slots

    r = Rules(hours={2: (time(9), time(17)), 6: None})
    shut = closed_slots(r, WED, 1, [], S)
    assert shut == {0, 1} | set(range(18, 24))  # 08:00-09:00 and 17:00-20:00
    assert closed_slots(r, date(2027, 3, 7), 1, [], S) == set(range(24))
    assert closed_slots(Rules(), WED, 2, [Closed(WED, 2, "")], S) == set(range(24))
    assert closed_slots(Rules(), WED, 1, [Closed(WED, 2, "")], S) == set()
    cells = row({}, 24, 0, shut)
    assert cells[0] == Cell("closed", 0, 1) and cells[2] == Cell("free", 2, 1)
    assert [(c.kind, c.start, c.end) for c in runs(cells)] == [("free", 2, 18)]


def test_a_closed_sunday_is_shown_closed_and_not_offered(app: Flask) -> None:
    set_rules(app, sun_closed="on")
    day = date.fromisoformat(future_day(10))
    sunday = day + timedelta(days=6 - day.weekday())
    alice = signed_in(app)
    page = alice.get(f"/?date={sunday}").data.decode()
    assert '<td class="closed"' in page and '<td class="free">' not in page
    found = alice.get(f"/find?date={sunday}&start=10:00&minutes=60").data.decode()
    assert "<strong>" not in found and "Free at other times" not in found
    status, page = book(alice, sunday.isoformat(), "10:00", "11:00")
    assert status == 422 and "rooms are closed on Sundays" in page


def test_check_in_windows_and_what_is_due() -> None:
    from datetime import UTC, datetime

    from roombook.rules import Due, checkin_window, due_cut

    made = datetime(2027, 2, 1, 12, 0)  # naive UTC, as the database keeps it
    r = Rules(checkin_minutes=15)
    opens, closes = checkin_window(r, S, WED, 4, made)  # type: ignore[misc]  # 10:00
    assert (f"{opens:%H:%M}", f"{closes:%H:%M}") == ("09:45", "10:15")
    assert checkin_window(Rules(), S, WED, 4, made) is None
    assert due_cut(Rules(), S, opens) is None
    paris = S.tz
    at = datetime(2027, 3, 3, 10, 20, tzinfo=paris).astimezone(UTC)
    assert due_cut(r, S, at) == Due(WED, 4, None)  # 10:00 + 15 min <= 10:20: the 10:00 is due
    assert due_cut(r, S, datetime(2027, 3, 3, 8, 10, tzinfo=paris)) is None
    # Turned on after a booking was made: that booking is not asked, nor released.
    later = Rules(checkin_minutes=15, checkin_since=datetime(2027, 3, 1, 8, 0))
    assert checkin_window(later, S, WED, 4, made) is None
    cut = due_cut(later, S, at)
    assert cut is not None and not cut.covers(WED, 4, made)
    assert cut.covers(WED, 4, datetime(2027, 3, 2, 9, 0))


def test_a_check_in_before_its_window_says_when_it_opens(app: Flask, client: FlaskClient
                                                         ) -> None:
    set_rules(app, checkin_minutes="15")
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    r = client.post("/api/bookings", headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
                    json={"room_id": 1, "date": future_day(3), "start": "09:00",
                          "end": "10:00"})
    assert r.status_code == 201 and r.json["checked_in"] is False  # type: ignore[index]
    bid = r.json["id"]  # type: ignore[index]
    r = client.post(f"/api/bookings/{bid}/checkin", headers=auth)
    assert r.status_code == 409 and r.json["error"] == "too_early"  # type: ignore[index]
    assert "check-in opens at 08:45" in r.json["message"]  # type: ignore[index]


def test_saved_hours_that_no_longer_fit_the_day_are_ignored_not_fatal(app: Flask) -> None:
    """Opening hours saved for an 08:00-20:00 day, then the site's day made
    09:00-18:00: the hours no longer parse; bookings go on without them."""
    from datetime import datetime

    from roombook.models import SiteRules

    from roombook import rules_db

    maker = app.extensions["roombook"].maker
    with maker.begin() as s:
        s.merge(SiteRules(id=1, hours="mon 08:00-19:00", updated_at=datetime(2026, 1, 1)))
    rules_db.forget(maker)
    narrow = Settings(secret_key="x" * 32, day_start=time(9), day_end=time(18))
    assert rules_db.current(maker, narrow).hours == {}
    rules_db.forget(maker)


class _Deadlocking:
    """A session maker whose first `deadlocks` transactions are InnoDB's
    deadlock victims (1213), as a check-in racing a booking's release was
    once in CI."""

    def __init__(self, maker: Any, deadlocks: int) -> None:
        self.maker, self.left, self.begun = maker, deadlocks, 0

    def begin(self) -> Any:
        self.begun += 1
        if self.left:
            self.left -= 1
            raise OperationalError("SELECT ... FOR UPDATE", {},
                                   Exception(1213, "Deadlock found when trying to get lock"))
        return self.maker.begin()

    def __call__(self) -> Any:
        return self.maker()


def test_a_check_in_and_a_cancel_picked_as_deadlock_victims_are_tried_again(app: Flask) -> None:
    from datetime import UTC, datetime

    from roombook.models import Booking, User
    from sqlalchemy import select

    from roombook import booking as bk
    from roombook import changes, checkin

    maker = app.extensions["roombook"].maker
    with maker() as s:
        alice = s.scalar(select(User).where(User.email == "alice@example.com"))
    day = date.fromisoformat(future_day(5))
    made = bk.book(maker, user_id=alice.id, room_id=2, rng=SlotRange(day, 4, 6), title="T",
                   key=uuid.uuid4().hex, now=datetime(2027, 1, 1)).booking
    flaky = _Deadlocking(maker, 2)
    at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)
    b = checkin.check_in(flaky, booking_id=made.id, user=alice, now=at,  # type: ignore[arg-type]
                         window=lambda _b: (at - timedelta(minutes=5), at + timedelta(minutes=5)))
    assert flaky.begun == 3 and b.checked_in_at is not None
    flaky = _Deadlocking(maker, 1)
    changes.cancel(flaky, booking_id=made.id, user=alice, now=datetime(2027, 1, 1))  # type: ignore[arg-type]
    with maker() as s:
        assert s.get(Booking, made.id).status == "cancelled"
    with pytest.raises(OperationalError):  # a deadlock every time: said, after the tries
        changes.cancel(_Deadlocking(maker, 9), booking_id=made.id,  # type: ignore[arg-type]
                       user=alice, now=datetime(2027, 1, 1))
