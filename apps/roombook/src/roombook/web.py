"""The HTML pages: work without JavaScript, forms protected against CSRF."""

from __future__ import annotations

import contextlib
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)
from sqlalchemy import select

from roombook import grid, throttle
from roombook.app import state, utcnow
from roombook.booking import (
    Cancelled,
    Change,
    Conflict,
    KeyReused,
    NotFound,
    book,
    edit,
    holders,
    same_as_mine,
    undoable,
)
from roombook.feeds import mine as my_feeds
from roombook.models import (
    EMAIL_MAX,
    TITLE_MAX,
    Booking,
    Room,
    bookable,
    room_list,
    valid_user,
)
from roombook.pages import longdate, page, safe_next, sign_out, signed_in
from roombook.slots import BadTime, SlotRange, parse_day, parse_range, time_of
from roombook.web_series import book_series_form

web = Blueprint("web", __name__)


@web.before_app_request
def load_user() -> None:
    g.user = None
    uid, at = session.get("uid"), session.get("at")
    if isinstance(uid, int) and isinstance(at, int) and not request.path.startswith("/api/"):
        if time.time() - at > state().settings.token_hours * 3600:
            # An absolute lifetime, as the API's tokens: a session signed in
            # once is not good for ever, however often it is used.
            session.pop("uid", None)
            session.pop("at", None)
            return
        made = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
        with state().maker() as s:
            g.user = valid_user(s, uid, made)


@web.get("/login")
def login() -> Any:
    return page("login.html")


@web.post("/login")
def login_post() -> Any:
    email = request.form.get("email", "").strip().lower()[:EMAIL_MAX]
    password = request.form.get("password", "")[:1024]
    tried = throttle.attempt(state().maker, email, password, request, utcnow())
    if tried.wait_s:
        flash(f"Too many failed sign-ins: try again in {tried.wait_s:.0f} s.", "error")
        return page("login.html", 429, email=email)
    if tried.unavailable:
        flash("Signing in is not possible on this copy of the service; try again in a moment.",
              "error")
        return page("login.html", 503, email=email)
    if tried.user is None:
        flash("Unknown email or wrong password.", "error")
        return page("login.html", 401, email=email)
    session.clear()
    session["uid"], session["at"] = tried.user.id, int(time.time())
    return redirect(safe_next(request.args.get("next", "")) or url_for("web.rooms"))


@web.post("/logout")
def logout() -> Any:
    """Sign out everywhere: this session, the others, and every API token."""
    if g.user is not None:
        sign_out(g.user.id)
    session.clear()
    return redirect(url_for("web.login"))


def _day() -> date:
    """The day asked for (?date=), today in the site's time zone without one
    or with a bad one (said in a message)."""
    st = state().settings
    try:
        return parse_day(request.args.get("date"), st, datetime.now(UTC))
    except BadTime as exc:
        flash(str(exc), "error")
        return datetime.now(UTC).astimezone(st.tz).date()


def _times() -> list[str]:
    st = state().settings
    return [f"{time_of(st, i):%H:%M}" for i in range(st.slots_per_day + 1)]


def _grid_context(day: date) -> dict[str, Any]:
    """What every grid needs: the hour header (the current hour marked on
    today's grid) and the slot times."""
    st = state().settings
    now = datetime.now(UTC).astimezone(st.tz)
    hours = grid.hours(st)
    now_hour = -1
    if now.date() == day:
        now_hour = next((k for k, (label, _, _) in enumerate(hours) if label == f"{now:%H}"), -1)
    return {"hours": hours, "now_hour": now_hour, "times": _times(),
            "now_text": f"{now:%H:%M}" if now_hour >= 0 else ""}


def _rows(s: Any, rooms: list[Room], days: list[date], room_id: int | None = None
          ) -> list[tuple[Room, date, list[grid.Cell]]]:
    st = state().settings
    held = holders(s, days[0], days[-1], g.user.id, room_id)
    now = datetime.now(UTC)
    return [(r, d, grid.row(held.get((r.id, d), {}), st.slots_per_day,
                            grid.first_open(st, d, now)))
            for r in rooms for d in days]


@web.get("/")
@signed_in()
def rooms() -> Any:
    """The day of every room: rooms as rows, the day's slots as columns."""
    day = _day()
    with state().maker() as s:
        all_rooms = list(s.scalars(room_list()))
        rows = _rows(s, all_rooms, [day])
    return page("rooms.html", rows=rows, day=day, prev=day - timedelta(days=1),
                next=day + timedelta(days=1), **_grid_context(day))


@web.get("/rooms/<int(min=1, max=2147483647):room_id>/week")
@signed_in()
def week(room_id: int) -> Any:
    """One room's week, Monday to Sunday: days as rows."""
    day = _day()
    monday = day - timedelta(days=day.weekday())
    days = [monday + timedelta(days=i) for i in range(7)]
    with state().maker() as s:
        room = bookable(s, room_id)
        if room is None:
            abort(404)
        rows = _rows(s, [room], days, room_id)
    return page("week.html", room=room, rows=rows, monday=monday,
                prev=monday - timedelta(days=7), next=monday + timedelta(days=7),
                **_grid_context(day))


def _prefill(start: str, end: str, title: str = "") -> dict[str, str]:
    """A start and end from a link (a clicked slot, a suggestion), kept only
    if they are times of the grid; a title carried along by a suggestion."""
    times = _times()
    out = {"title": title.strip()} if title.strip() and len(title) <= TITLE_MAX else {}
    if start in times[:-1] and end in times[1:] and start < end:
        out.update(start=start, end=end)
    return out


def _suggestions(room_id: int, rng: SlotRange, title: str = "",
                 keep: int | None = None) -> dict[str, Any]:
    """After a conflict: the nearest free ranges of the same length in this
    room, and the rooms as large or larger free for the very same range,
    the closest in size first (a 20-seat meeting was offered a 4-seat room).
    The title rides along. keep: a booking being moved, whose own slots
    count as free."""
    st = state().settings
    length = rng.end - rng.start
    first = grid.first_open(st, rng.day, datetime.now(UTC))
    times = _times()
    with state().maker() as s:
        held = holders(s, rng.day, rng.day, g.user.id)
        rooms = list(s.scalars(room_list()))
    if keep is not None:
        held = {k: {n: h for n, h in row.items() if h.booking_id != keep}
                for k, row in held.items()}
    size = next((r.capacity for r in rooms if r.id == room_id), 0)
    others = sorted((r for r in rooms if r.id != room_id and r.capacity >= size),
                    key=lambda r: (r.capacity, r.name))
    starts = grid.nearest_free(held.get((room_id, rng.day), {}), rng.start, length,
                               st.slots_per_day, first)
    return {"same_room": [(times[a], times[a + length]) for a in sorted(starts)],
            "other_rooms": [r for r in others
                            if grid.free_for(held.get((r.id, rng.day), {}), rng.start, length)],
            "start": times[rng.start], "end": times[rng.end], "title": title,
            "room_id": room_id, "day": rng.day}


def _room_page(room_id: int, day: date, status: int = 200, suggest: dict[str, Any] | None = None,
               **form: Any) -> Any:
    with state().maker() as s:
        room = bookable(s, room_id)
        if room is None:
            abort(404)
        rows = _rows(s, [room], [day], room_id)
    return page("room.html", status, room=room, day=day, rows=rows, suggest=suggest,
                key=secrets.token_urlsafe(16), form=form, **_grid_context(day))


@web.get("/rooms/<int(min=1, max=2147483647):room_id>")
@signed_in()
def room(room_id: int) -> Any:
    day = _day()
    return _room_page(room_id, day, **_prefill(request.args.get("start", ""),
                                                request.args.get("end", ""),
                                                request.args.get("title", "")))


@web.post("/rooms/<int(min=1, max=2147483647):room_id>/book")
@signed_in()
def book_room(room_id: int) -> Any:
    f = request.form
    day_text, start, end = f.get("date", ""), f.get("start", ""), f.get("end", "")
    title = f.get("title", "").strip()
    key = f.get("key", "")[:64]
    st = state()
    try:
        day = parse_day(day_text, st.settings, datetime.now(UTC))
    except BadTime as exc:
        flash(str(exc), "error")
        return _room_page(room_id, datetime.now(UTC).astimezone(st.settings.tz).date(), 400)
    form = {"start": start, "end": end, "title": title}
    if len(title) > TITLE_MAX:
        flash(f"The title may have at most {TITLE_MAX} characters.", "error")
        return _room_page(room_id, day, 400, **form)
    if len(key) < 8:
        flash("The form was incomplete; please try again.", "error")
        return _room_page(room_id, day, 400, **form)
    form.update(repeat=f.get("repeat", ""), until=f.get("until", ""))
    try:
        rng = parse_range(st.settings, day_text, start, end, datetime.now(UTC))
        if form["repeat"]:
            return book_series_form(room_id, rng, form, key)
        outcome = book(st.maker, user_id=g.user.id, room_id=room_id, rng=rng, title=title,
                       key=key, now=utcnow())
    except BadTime as exc:
        flash(str(exc), "error")
        return _room_page(room_id, day, 400, **form)
    except Conflict:
        mine = same_as_mine(st.maker, g.user.id, room_id, rng, title)
        if mine is not None:
            flash(f"You had already booked this: {start}-{end} on {longdate(day)}.", "ok")
            return redirect(url_for("web.bookings", booked=mine))
        flash(f"Sorry: this room is already booked for part of {start}-{end} on "
              f"{longdate(day)}. Pick another time or another room.", "error")
        return _room_page(room_id, day, 409, suggest=_suggestions(room_id, rng, title), **form)
    except KeyReused:
        flash("This form was already used for another booking; please try again.", "error")
        return _room_page(room_id, day, 422, **form)
    except NotFound:
        abort(404)
    flash(f"Booked: {start}-{end} on {longdate(day)}.", "ok")
    return redirect(url_for("web.bookings", booked=outcome.booking.id))


@web.get("/bookings")
@signed_in()
def bookings() -> Any:
    st = state()
    with st.maker() as s:
        rows = list(s.execute(select(Booking, Room.name).join(Room).where(
            Booking.user_id == g.user.id).order_by(Booking.day, Booking.start_slot)))
        feeds = [(f, f.room.name if f.room else None) for f in my_feeds(s, g.user.id)]
        undo = undoable(s, request.args.get("cancelled", ""), g.user, utcnow())
    items = [{"b": b, "room": name, "start": f"{time_of(st.settings, b.start_slot):%H:%M}",
              "end": f"{time_of(st.settings, b.end_slot):%H:%M}"} for b, name in rows]
    new_feed = session.pop("new_feed", None)
    return page("bookings.html", items=items, feeds=feeds, undo=undo, new_feed=new_feed,
                webcal=new_feed and "webcal://" + new_feed.split("://", 1)[1])


def _edit_page(b: Booking, status: int = 200, suggest: dict[str, Any] | None = None,
               **form: str) -> Any:
    st = state().settings
    with state().maker() as s:
        rooms = list(s.scalars(room_list()))
    current = {"date": b.day.isoformat(), "start": f"{time_of(st, b.start_slot):%H:%M}",
               "end": f"{time_of(st, b.end_slot):%H:%M}", "room_id": str(b.room_id),
               "title": b.title}
    return page("edit.html", status, b=b, rooms=rooms, times=_times(),
                form={**current, **form}, suggest=suggest)


def _mine(booking_id: int) -> Booking:
    with state().maker() as s:
        b = s.get(Booking, booking_id)
    if b is None or (b.user_id != g.user.id and not g.user.is_admin) or b.status != "confirmed":
        abort(404)
    return b


@web.get("/bookings/<int(min=1, max=2147483647):booking_id>/edit")
@signed_in()
def edit_booking(booking_id: int) -> Any:
    """The edit form; a suggestion's link fills in its room, day and times."""
    a = request.args
    form = _prefill(a.get("start", ""), a.get("end", ""))
    if a.get("room_id", "").isdigit():
        form["room_id"] = a["room_id"]
    if a.get("date"):
        with contextlib.suppress(BadTime):
            form["date"] = parse_day(a["date"], state().settings, datetime.now(UTC)).isoformat()
    return _edit_page(_mine(booking_id), **form)


@web.post("/bookings/<int(min=1, max=2147483647):booking_id>/edit")
@signed_in()
def edit_booking_post(booking_id: int) -> Any:
    """Move (time, room) or retitle in one transaction: the booking moves only
    if its new slots are free, never half-moved."""
    b = _mine(booking_id)
    f = request.form
    form = {k: f.get(k, "") for k in ("date", "start", "end", "room_id", "title")}
    form["title"] = form["title"].strip()
    try:
        if len(form["title"]) > TITLE_MAX:
            raise BadTime(f"the title may have at most {TITLE_MAX} characters")
        if not form["room_id"].isdigit():
            raise BadTime("choose a room")
        rng = parse_range(state().settings, form["date"], form["start"], form["end"],
                          datetime.now(UTC))
        edit(state().maker, booking_id=booking_id, user=g.user,
             change=Change(room_id=int(form["room_id"]), rng=rng, title=form["title"]))
    except BadTime as exc:
        flash(str(exc), "error")
        return _edit_page(b, 400, **form)
    except Conflict:
        flash(f"Sorry: that room is already booked for part of {form['start']}-{form['end']} "
              f"on {longdate(rng.day)}; the booking is unchanged. Free instead: below.",
              "error")
        return _edit_page(b, 409, suggest=_suggestions(int(form["room_id"]), rng,
                                                       form["title"], keep=b.id), **form)
    except (NotFound, Cancelled):
        abort(404)
    flash(f"Booking moved: {form['start']}-{form['end']} on {longdate(rng.day)}.", "ok")
    return redirect(url_for("web.bookings"))


@web.get("/photos/<path:name>")
def photo(name: str) -> Any:
    # Behind Apache the volume serves these directly; this is the fallback.
    return send_from_directory(state().settings.upload_dir, name)
