"""The HTML pages with a real form flow: CSRF tokens, bookings, photos."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from roombook.app import create_app
from roombook.config import Settings

from tests.roombook.conftest import PASSWORD, future_day

DAY = future_day()


def csrf(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1).decode()


def signed_in(app: Flask, email: str = "alice@example.com") -> FlaskClient:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    token = csrf(client.get("/login").data)
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
    return client


def book_form(client: FlaskClient, room: int = 1, start: str = "09:00", end: str = "10:00"
              ) -> tuple[int, str]:
    page = client.get(f"/rooms/{room}?date={DAY}").data
    key = re.search(rb'name="key" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    r = client.post(f"/rooms/{room}/book", data={
        "csrf_token": csrf(page), "key": key, "date": DAY, "start": start, "end": end,
        "title": "Review"}, follow_redirects=True)
    return r.status_code, r.data.decode()


def test_pages_need_sign_in(client: FlaskClient) -> None:
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_a_form_without_its_token_is_refused(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    r = client.post("/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
    assert b"form expired" in client.get(r.headers["Location"]).data
    assert client.get("/bookings").status_code == 302  # not signed in
    # A booking form without its token books nothing either.
    alice = signed_in(app)
    r = alice.post("/rooms/1/book", data={"date": DAY, "start": "09:00", "end": "10:00",
                                          "title": "Forged", "key": "k" * 16})
    assert r.status_code == 303 and r.headers["Location"].startswith("/rooms/1?")
    assert "title=Forged" in r.headers["Location"]  # back to the form, filled in
    assert b"Forged" not in alice.get("/bookings").data


def test_book_and_see_then_conflict(app: Flask) -> None:
    alice = signed_in(app)
    status, page = book_form(alice)
    assert status == 200 and "Booked: 09:00-10:00" in page and "Review" in page
    bob = signed_in(app, "bob@example.com")
    status, page = book_form(bob, start="09:30", end="10:30")
    assert status == 409 and "already booked" in page


def test_resubmitting_the_same_form_books_once(app: Flask) -> None:
    alice = signed_in(app)
    page = alice.get(f"/rooms/1?date={DAY}").data
    key = re.search(rb'name="key" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    form = {"csrf_token": csrf(page), "key": key, "date": DAY, "start": "11:00", "end": "12:00"}
    assert alice.post("/rooms/1/book", data=form).status_code == 302
    assert alice.post("/rooms/1/book", data=form).status_code == 302
    assert alice.get("/bookings").data.count(b"<td data-th=\"Time\">11:00-12:00</td>") == 1


def test_cancel_from_the_list(app: Flask) -> None:
    alice = signed_in(app)
    book_form(alice)
    page = alice.get("/bookings").data
    booking_id = re.search(rb"/bookings/(\d+)/cancel", page).group(1).decode()  # type: ignore[union-attr]
    r = alice.post(f"/bookings/{booking_id}/cancel", data={"csrf_token": csrf(page)},
                   follow_redirects=True)
    assert b"Booking cancelled" in r.data and b"cancelled" in r.data


def test_bad_form_input(app: Flask) -> None:
    alice = signed_in(app)
    status, page = book_form(alice, start="10:00", end="09:00")
    assert status == 400 and "not after" in page
    assert alice.get("/rooms/999").status_code == 404
    assert alice.get("/rooms/1?date=notadate").status_code == 200  # falls back to today


def png(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def admin_post_room(client: FlaskClient, name: str, photo: bytes, filename: str = "p.png") -> str:
    page = client.get("/admin").data
    r = client.post("/admin/rooms", data={
        "csrf_token": csrf(page), "name": name, "capacity": "6", "equipment": "screen",
        "photo": (io.BytesIO(photo), filename)}, content_type="multipart/form-data",
        follow_redirects=True)
    return r.data.decode()


def test_photo_upload_is_checked_and_served(app: Flask) -> None:
    admin = signed_in(app, "admin@example.com")
    assert "Room Eiffel added" in admin_post_room(admin, "Eiffel", png())
    day_view = admin.get("/").data.decode()
    link = re.search(r'href="(/rooms/\d+)\?[^"]*"[^>]*>Eiffel<', day_view).group(1)  # type: ignore[union-attr]
    page = admin.get(link).data.decode()
    src = re.search(r'src="(/photos/[0-9a-f]+\.png)"', page).group(1)  # type: ignore[union-attr]
    assert admin.get(src).data == png()
    assert "not an image" in admin_post_room(admin, "Fake", b"GIF89a not really", "x.gif")
    assert "larger than" in admin_post_room(admin, "Big", b"\x89PNG" + b"0" * 220_000)
    huge = admin_post_room(admin, "Huge", b"0" * 400_000)
    assert "too large" in huge
    assert "Fake" not in admin.get("/").data.decode()


def test_only_admins_administer(app: Flask) -> None:
    assert signed_in(app).get("/admin").status_code == 403


def test_the_day_view_shows_every_room_and_who_holds_what(app: Flask) -> None:
    alice = signed_in(app)
    assert book_form(alice, room=1, start="09:00", end="10:00")[0] == 200
    page = signed_in(app, "bob@example.com").get(f"/?date={DAY}").data.decode()
    rows = re.findall(r'<th scope="row" class="rowhead">', page)
    assert len(rows) >= 3  # the sample rooms, one row each
    # Alice's booking is one cell over its two slots, with its title and her name.
    assert re.search(r'<td class="taken" colspan="2" title="09:00-10:00: Review · Alice">', page)
    # A free slot is a link to the booking form, prefilled.
    assert f'href="/rooms/1?date={DAY}&amp;start=10:00&amp;end=10:30"' in page
    assert "Times in Europe/Paris" in page and "<h1>Rooms <small>" in page


def test_a_clicked_slot_prefills_the_form_and_bad_times_are_ignored(app: Flask) -> None:
    alice = signed_in(app)
    page = alice.get(f"/rooms/2?date={DAY}&start=14:00&end=15:30").data.decode()
    assert "<option selected>14:00</option>" in page and "<option selected>15:30</option>" in page
    page = alice.get(f"/rooms/2?date={DAY}&start=14:10&end=<b>").data.decode()
    assert "<option selected>" not in page


def test_a_week_view_of_one_room(app: Flask) -> None:
    alice = signed_in(app)
    book_form(alice, room=2, start="12:00", end="13:00")
    page = alice.get(f"/rooms/2/week?date={DAY}").data.decode()
    assert page.count('<th scope="row" class="rowhead">') == 7
    assert 'class="mine" colspan="2"' in page
    assert alice.get("/rooms/999/week").status_code == 404


def test_a_conflict_suggests_free_times_and_other_rooms(app: Flask) -> None:
    alice = signed_in(app)
    book_form(alice, room=1, start="09:00", end="11:00")
    status, page = book_form(signed_in(app, "bob@example.com"), room=1, start="10:00",
                             end="11:00")
    assert status == 409
    # The title typed rides along with each suggestion.
    assert (f'href="/rooms/1?date={DAY}&amp;start=11:00&amp;end=12:00&amp;title=Review">'
            '11:00-12:00') in page
    assert (f'href="/rooms/1?date={DAY}&amp;start=08:00&amp;end=09:00&amp;title=Review">'
            '08:00-09:00') in page
    assert re.search(rf'href="/rooms/2\?date={DAY}&amp;start=10:00&amp;end=11:00&amp;'
                     'title=Review">', page)
    followed = signed_in(app, "bob@example.com").get(
        f"/rooms/2?date={DAY}&start=10:00&end=11:00&title=Review").data.decode()
    assert 'name="title" maxlength="100" value="Review"' in followed


def test_suggestions_are_rooms_as_large_closest_first(app: Flask) -> None:
    """Darwin (20 seats) taken: no smaller room is offered instead. Ada (4)
    taken: the others, closest in size first."""
    book_form(signed_in(app), room=4, start="09:00", end="10:00")
    status, page = book_form(signed_in(app, "bob@example.com"), room=4, start="09:00",
                             end="10:00")
    assert status == 409 and "Free at 09:00-10:00" not in page
    book_form(signed_in(app), room=1, start="13:00", end="14:00")
    status, page = book_form(signed_in(app, "bob@example.com"), room=1, start="13:00",
                             end="14:00")
    offered = re.findall(r'href="/rooms/(\d)\?date=[^"]*start=13:00[^"]*">', page)
    assert status == 409 and offered == ["2", "3", "4"], offered


def test_a_move_into_taken_slots_offers_free_ones(app: Flask) -> None:
    """An edit that meets a conflict says so and offers, as booking does,
    free times in that room and the rooms free then; a chip fills the form."""
    alice, bob = signed_in(app), signed_in(app, "bob@example.com")
    book_form(alice, room=2, start="10:00", end="11:00")
    book_form(bob, room=2, start="11:00", end="12:00")
    page = alice.get("/bookings").data.decode()
    booking_id = re.search(r"/bookings/(\d+)/edit", page).group(1)  # type: ignore[union-attr]
    edit = alice.get(f"/bookings/{booking_id}/edit").data
    r = alice.post(f"/bookings/{booking_id}/edit", data={
        "csrf_token": csrf(edit), "date": DAY, "start": "11:00", "end": "12:00",
        "room_id": "2", "title": "Review"})
    text = r.data.decode()
    assert r.status_code == 409 and "Free instead" in text
    chip = (f'/bookings/{booking_id}/edit?room_id=2&amp;date={DAY}&amp;start=12:00&amp;'
            'end=13:00')
    assert chip in text
    assert f'/bookings/{booking_id}/edit?room_id=3&amp;date={DAY}&amp;start=11:00' in text
    # Its own slots count as free: 10:00-11:00, where it is now, is offered.
    assert "start=10:00&amp;end=11:00" in text
    filled = alice.get(chip.replace("&amp;", "&")).data.decode()
    assert all(f"<option selected>{t}</option>" in filled for t in ("12:00", "13:00"))


def _series_post(client: FlaskClient, room: int, start: str, end: str, until: str,
                 confirm: str = "", repeat: str = "weekly", key: str = "") -> tuple[int, str]:
    page = client.get(f"/rooms/{room}?date={DAY}").data
    key = key or re.search(rb'name="key" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    r = client.post(f"/rooms/{room}/book", data={
        "csrf_token": csrf(page), "key": key, "date": DAY, "start": start, "end": end,
        "title": "Weekly", "repeat": repeat, "until": until, "confirm": confirm},
        follow_redirects=True)
    return r.status_code, r.data.decode()


def test_a_weekly_series_shows_its_dates_then_books_the_free_ones(app: Flask) -> None:
    from datetime import date, timedelta

    first = date.fromisoformat(DAY)
    until = (first + timedelta(weeks=3)).isoformat()
    bob = signed_in(app, "bob@example.com")
    # Bob holds the third week's date.
    page = bob.get(f"/rooms/3?date={first + timedelta(weeks=2)}").data
    key = re.search(rb'name="key" value="([^"]+)"', page).group(1).decode()  # type: ignore[union-attr]
    bob.post("/rooms/3/book", data={"csrf_token": csrf(page), "key": key,
                                    "date": (first + timedelta(weeks=2)).isoformat(),
                                    "start": "10:00", "end": "11:00"})
    alice = signed_in(app)
    status, page = _series_post(alice, 3, "10:00", "11:00", until)
    assert status == 200 and page.count('<tr class="free">') == 3
    assert page.count('<tr class="taken">') == 1 and "Book the 3 free dates" in page
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    status, page = _series_post(alice, 3, "10:00", "11:00", until, "free", key=key)
    assert status == 200 and "Booked 3 dates" in page and "not booked, taken" in page
    # The same confirmation again (a double click, a retry): still three.
    _series_post(alice, 3, "10:00", "11:00", until, "free", key=key)
    assert alice.get("/bookings").data.decode().count("(a series)") == 3
    # Asking for all of them when one is taken books nothing.
    status, page = _series_post(alice, 3, "12:00", "13:00", until, "all")
    assert status == 200 and "Booked 4 dates" in page
    status, page = _series_post(bob, 3, "12:00", "13:00", until, "all")
    assert status == 409 and "Taken meanwhile" in page


def test_a_series_is_cancelled_from_a_date_on(app: Flask) -> None:
    from datetime import date, timedelta

    first = date.fromisoformat(DAY)
    alice = signed_in(app)
    until = (first + timedelta(days=4)).isoformat()
    status, page = _series_post(alice, 4, "15:00", "16:00", until, "all", repeat="daily")
    assert "Booked 5 dates" in page
    mine = alice.get("/bookings").data.decode()
    series_id = re.search(r'action="/series/(\d+)/cancel"', mine).group(1)  # type: ignore[union-attr]
    r = alice.post(f"/series/{series_id}/cancel", data={
        "csrf_token": csrf(mine.encode()), "from": (first + timedelta(days=2)).isoformat()},
        follow_redirects=True)
    assert "Cancelled 3 dates of the series" in r.data.decode()
    bob = signed_in(app, "bob@example.com")
    theirs = csrf(bob.get("/bookings").data)
    assert bob.post(f"/series/{series_id}/cancel",
                    data={"csrf_token": theirs, "from": DAY}).status_code == 404


def test_a_series_has_at_most_52_dates(app: Flask) -> None:
    status, page = _series_post(signed_in(app), 1, "08:00", "09:00", "2099-01-01",
                                repeat="daily")
    assert status == 400 and ("at most 52 dates" in page or "a year ahead" in page)


def _new_feed(client: FlaskClient, room: int | None = None) -> str:
    page = client.get("/bookings").data
    data = {"csrf_token": csrf(page), **({"room_id": str(room)} if room else {})}
    answer = client.post("/feeds", data=data, follow_redirects=True).data.decode()
    return re.search(r"(http://localhost/feeds/[A-Za-z0-9_-]{32}\.ics)", answer).group(1)  # type: ignore[union-attr]


def test_calendar_feeds_a_person_s_and_a_room_s_revocable(app: Flask) -> None:
    from icalendar import Calendar

    alice, bob = signed_in(app), signed_in(app, "bob@example.com")
    book_form(alice, room=2, start="09:00", end="10:30")
    book_form(bob, room=2, start="11:00", end="12:00")
    mine = _new_feed(alice)
    cal = Calendar.from_ical(app.test_client().get(mine).data)  # no sign-in: the token is the key
    events = [e for e in cal.walk("VEVENT")]
    assert len(events) == 1 and str(events[0]["summary"]) == "Review (Babbage)"
    start, end = events[0].decoded("dtstart"), events[0].decoded("dtend")
    assert (f"{start:%Y-%m-%d %H:%M}", (end - start).seconds) == (f"{DAY} 09:00", 5400)
    assert str(start.tzinfo) == "Europe/Paris"
    assert [str(z["tzid"]) for z in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert events[0]["sequence"] == 0
    stamp = events[0].decoded("dtstamp")
    assert "http://localhost/feeds/" not in alice.get("/bookings").data.decode()  # shown once
    # Moved: a new SEQUENCE and a later DTSTAMP and LAST-MODIFIED, or a
    # calendar client may keep the booking where it was.
    page = alice.get("/bookings").data.decode()
    booking_id = re.search(r'/bookings/(\d+)/edit', page).group(1)  # type: ignore[union-attr]
    edit = alice.get(f"/bookings/{booking_id}/edit").data
    r = alice.post(f"/bookings/{booking_id}/edit", data={
        "csrf_token": csrf(edit), "date": DAY, "start": "13:00", "end": "14:00",
        "room_id": "2", "title": "Review"}, follow_redirects=True)
    assert b"Booking moved" in r.data
    moved = Calendar.from_ical(app.test_client().get(mine).data).walk("VEVENT")[0]
    assert moved["sequence"] == 1 and moved.decoded("dtstamp") >= stamp  # to the second
    assert moved.decoded("last-modified") == moved.decoded("dtstamp")
    room = _new_feed(alice, room=2)
    got = Calendar.from_ical(app.test_client().get(room).data).walk("VEVENT")
    assert sorted(str(e["description"]) for e in got) == ["Booked by Alice", "Booked by Bob"]
    # Revoked: the address answers no more; an unknown one never did.
    page = alice.get("/bookings").data.decode()
    feed_id = re.search(r'action="/feeds/(\d+)/revoke"', page).group(1)  # type: ignore[union-attr]
    assert alice.post(f"/feeds/{feed_id}/revoke",
                      data={"csrf_token": csrf(page.encode())}).status_code == 302
    assert app.test_client().get(mine).status_code == 404
    assert app.test_client().get("/feeds/" + "A" * 32 + ".ics").status_code == 404
    theirs = csrf(bob.get("/bookings").data)
    assert bob.post(f"/feeds/{feed_id}/revoke", data={"csrf_token": theirs}).status_code == 404


def test_an_admin_edits_and_removes_a_room_with_bookings_to_come(app: Flask) -> None:
    alice, admin = signed_in(app), signed_in(app, "admin@example.com")
    book_form(alice, room=4, start="09:00", end="10:00")
    page = admin.get("/admin/rooms/4").data.decode()
    assert "has 1 bookings to come" in page
    token = csrf(page.encode())
    r = admin.post("/admin/rooms/4", data={"csrf_token": token, "name": "Darwin hall",
                                           "capacity": "30", "equipment": "stage"},
                   follow_redirects=True)
    assert "Room Darwin hall saved" in r.data.decode()
    # Not without saying what becomes of its booking.
    r = admin.post("/admin/rooms/4/remove", data={"csrf_token": token}, follow_redirects=True)
    assert "choose to cancel them" in r.data.decode()
    assert "Darwin hall" in alice.get(f"/?date={DAY}").data.decode()
    r = admin.post("/admin/rooms/4/remove", data={"csrf_token": token, "future": "cancel"},
                   follow_redirects=True)
    assert "1 bookings to come cancelled" in r.data.decode()
    assert "Darwin hall" not in alice.get(f"/?date={DAY}").data.decode()
    assert alice.get(f"/rooms/4?date={DAY}").status_code == 404
    assert 'class="cancelled"' in alice.get("/bookings").data.decode()
    assert signed_in(app).get("/admin/rooms/1").status_code == 403


def test_an_admin_removes_a_person_and_sees_every_booking(app: Flask) -> None:
    bob, admin = signed_in(app, "bob@example.com"), signed_in(app, "admin@example.com")
    book_form(bob, room=1, start="14:00", end="15:00")
    book_form(signed_in(app), room=2, start="16:00", end="17:00")
    day = admin.get(f"/admin/bookings?date={DAY}").data.decode()
    assert "Bob &lt;bob@example.com&gt;" in day and "14:00-15:00" in day
    theirs = re.findall(r'href="/admin/bookings/(\d+)/cancel"', day)
    assert len(theirs) == 2
    asked = admin.get(f"/admin/bookings/{theirs[0]}/cancel").data.decode()
    assert "Cancel this booking?" in asked and 'name="reason"' in asked
    r = admin.post(f"/admin/bookings/{theirs[0]}/cancel", follow_redirects=True, data={
        "csrf_token": csrf(asked.encode()), "reason": "the room is being painted"})
    assert f"Booking {theirs[0]} cancelled" in r.data.decode()
    # Bob's or Alice's: the one whose it was reads why, in My bookings.
    told = [signed_in(app, who).get("/bookings").data.decode()
            for who in ("bob@example.com", "alice@example.com")]
    assert sum("by an administrator: the room is being painted" in t for t in told) == 1
    page = admin.get("/admin").data.decode()
    bob_id = re.search(r'href="/admin/users/(\d+)">bob@example.com', page).group(1)  # type: ignore[union-attr]
    token = csrf(page.encode())
    r = admin.post(f"/admin/users/{bob_id}", data={"csrf_token": token, "email": "bob",
                                                   "name": "Bob"}, follow_redirects=True)
    assert "like name@example.org" in r.data.decode()
    r = admin.post(f"/admin/users/{bob_id}/remove", data={"csrf_token": token, "future": "cancel"},
                   follow_redirects=True)
    assert "cannot sign in any more" in r.data.decode()
    # Signed out at once, and cannot sign in again.
    assert bob.get("/").status_code == 302
    login = app.test_client()
    r = login.post("/login", data={"email": "bob@example.com", "password": PASSWORD,
                                   "csrf_token": csrf(login.get("/login").data)})
    assert r.status_code == 401
    assert 'class="cancelled"' in admin.get(f"/admin/bookings?date={DAY}").data.decode()


def test_a_booking_is_moved_from_its_page_only_into_free_slots(app: Flask) -> None:
    alice, bob = signed_in(app), signed_in(app, "bob@example.com")
    book_form(alice, room=1, start="09:00", end="10:00")
    book_form(bob, room=2, start="09:00", end="10:00")
    mine = alice.get("/bookings").data.decode()
    edit = re.search(r'href="(/bookings/\d+/edit)"', mine).group(1)  # type: ignore[union-attr]
    page = alice.get(edit).data
    form = {"csrf_token": csrf(page), "date": DAY, "start": "09:00", "end": "10:00",
            "room_id": "2", "title": "Moved"}
    r = alice.post(edit, data=form)
    assert r.status_code == 409 and "the booking is unchanged" in r.data.decode()
    r = alice.post(edit, data={**form, "start": "10:00", "end": "11:30"}, follow_redirects=True)
    assert "Booking moved: 10:00-11:30" in r.data.decode()
    day = alice.get(f"/?date={DAY}").data.decode()
    assert 'class="mine" colspan="3" title="10:00-11:30: Moved · Alice"' in day
    assert bob.get(edit).status_code == 404  # not his


def test_a_photo_is_served_with_a_relative_upload_dir(tmp_path: Path, sqlite_template: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`roombook serve` with its default upload folder ("uploads", relative):
    the photo is saved under the working directory and must be served from
    there too (it was looked for under the package: 404)."""
    shutil.copy(sqlite_template, tmp_path / "rb.db")
    monkeypatch.chdir(tmp_path)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'rb.db'}",
                              secret_key="s" * 32, upload_dir="uploads",
                              max_upload_bytes=200_000))
    app.config["TESTING"] = True
    admin = signed_in(app, "admin@example.com")
    assert "Room Eiffel added" in admin_post_room(admin, "Eiffel", png())
    stored = list((tmp_path / "uploads").iterdir())
    assert len(stored) == 1
    r = admin.get(f"/photos/{stored[0].name}")
    assert r.status_code == 200 and r.data == png()


def test_an_undo_comes_too_late_when_the_room_was_taken_meanwhile(app: Flask) -> None:
    alice, bob = signed_in(app), signed_in(app, "bob@example.com")
    book_form(alice, start="15:00", end="16:00")
    page = alice.get("/bookings").data
    booking_id = re.search(rb"/bookings/(\d+)/cancel", page).group(1).decode()  # type: ignore[union-attr]
    r = alice.post(f"/bookings/{booking_id}/cancel", data={"csrf_token": csrf(page)},
                   follow_redirects=True)
    assert b"Undo</button>" in r.data
    assert "Booked: 15:30-16:30" in book_form(bob, start="15:30", end="16:30")[1]
    r = alice.post(f"/bookings/{booking_id}/restore", data={"csrf_token": csrf(r.data)},
                   follow_redirects=True)
    assert b"booked again meanwhile" in r.data
    assert bob.post(f"/bookings/{booking_id}/restore",
                    data={"csrf_token": csrf(bob.get("/bookings").data)}).status_code == 404


def test_a_removed_person_s_feeds_end(app: Flask) -> None:
    bob, admin = signed_in(app, "bob@example.com"), signed_in(app, "admin@example.com")
    url = _new_feed(bob).removeprefix("http://localhost")
    assert app.test_client().get(url).status_code == 200
    page = admin.get("/admin").data.decode()
    bob_id = re.search(r'href="/admin/users/(\d+)">bob@example.com', page).group(1)  # type: ignore[union-attr]
    r = admin.post(f"/admin/users/{bob_id}/remove", data={"csrf_token": csrf(page.encode())},
                   follow_redirects=True)
    assert "cannot sign in any more" in r.data.decode()
    assert app.test_client().get(url).status_code == 404


def test_a_session_has_an_absolute_lifetime(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signed in once, good for token_hours however often it is used (as the
    API's tokens), then signed out."""
    import time as clock

    alice = signed_in(app)
    assert alice.get("/").status_code == 200
    later = clock.time() + app.extensions["roombook"].settings.token_hours * 3600 + 60
    monkeypatch.setattr(clock, "time", lambda: later)
    r = alice.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_back_and_book_again_is_the_same_booking_not_a_conflict(app: Flask) -> None:
    """The browser's Back shows the form again (a new key if it was fetched
    anew): booking it once more finds the booking made, says so, and books
    nothing twice."""
    alice = signed_in(app)
    status, first = book_form(alice, room=2, start="11:00", end="12:00")
    assert status == 200 and "Booked: 11:00-12:00" in first
    status, again = book_form(alice, room=2, start="11:00", end="12:00")
    assert status == 200 and "You had already booked this" in again, again
    assert again.count("11:00") == first.count("11:00")  # one booking in the list, not two
    bob = signed_in(app, "bob@example.com")
    status, theirs = book_form(bob, room=2, start="11:00", end="12:00")
    assert status == 409 and "already booked" in theirs  # someone else's: a conflict
