"""The HTML pages: work without JavaScript, forms protected against CSRF."""

from __future__ import annotations

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
from flask_babel import gettext
from sqlalchemy import or_, select

from roombook import find, grid, i18n, rules, throttle
from roombook.availability import blocked
from roombook.booking import Conflict, KeyReused, NotFound, book, same_as_mine
from roombook.changes import undoable
from roombook.checkin import checkin_state
from roombook.context import safe_next, state, utcnow
from roombook.feeds import mine as my_feeds
from roombook.models import (
    EMAIL_MAX,
    TITLE_MAX,
    Booking,
    Room,
    User,
    active,
    bookable,
    room_list,
    valid_user,
)
from roombook.occupancy import holders
from roombook.pages import longdate, page, sign_out, signed_in
from roombook.rules_db import RuleBroken, current, judge
from roombook.slots import BadInput, SlotRange, day_times, parse_day, parse_range, time_of
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
        flash(gettext("Too many failed sign-ins: try again in %(s)s s.",
                      s=f"{tried.wait_s:.0f}"), "error")
        return page("login.html", 429, email=email)
    if tried.unavailable:
        flash(gettext("Signing in is not possible on this copy of the service; try again in a "
                      "moment."), "error")
        return page("login.html", 503, email=email)
    if tried.user is None:
        flash(gettext("Unknown email or wrong password."), "error")
        return page("login.html", 401, email=email)
    session.clear()
    session["uid"], session["at"] = tried.user.id, int(time.time())
    i18n.remember(tried.user.id, tried.user.locale, i18n.current())
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
    except BadInput as exc:
        flash(str(exc), "error")
        return datetime.now(UTC).astimezone(st.tz).date()


def _times() -> list[str]:
    st = state().settings
    return day_times(st)


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
    now = datetime.now(UTC)
    found = current(state().maker, st)
    held = holders(s, days[0], days[-1], g.user.id, room_id, rules.due_cut(found, st, now))
    return [(r, d, grid.row(held.get((r.id, d), {}), st.slots_per_day,
                            grid.first_open(st, d, now),
                            rules.closed_slots(found, d, r.id, found.closed, st)))
            for r in rooms for d in days]


@web.get("/")
@signed_in()
def rooms() -> Any:
    """The day of every room: rooms as rows, the day's slots as columns."""
    day = _day()
    need = _need()
    with state().maker() as s:
        all_rooms = [r for r in s.scalars(room_list()) if find.fits(r, need)]
        rows = _rows(s, all_rooms, [day])
    keep = {"people": need.people if need.people > 1 else None,
            "equipment": " ".join(need.equipment) or None}
    return page("rooms.html", rows=rows, day=day, prev=day - timedelta(days=1),
                next=day + timedelta(days=1), keep=keep, filtered=need != find.Need(),
                **_grid_context(day))


def _need() -> find.Need:
    """The grid's filter (?people=, ?equipment=); none, said in a message,
    when it is not one."""
    try:
        return find.need_of(request.args.get("people"), request.args.get("equipment"))
    except find.BadNeed as exc:
        flash(str(exc), "error")
        return find.Need()


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


def prefill(start: str, end: str, title: str = "") -> dict[str, str]:
    """A start and end from a link (a clicked slot, a suggestion), kept only
    if they are times of the grid; a title carried along by a suggestion."""
    times = _times()
    out = {"title": title.strip()} if title.strip() and len(title) <= TITLE_MAX else {}
    if start in times[:-1] and end in times[1:] and start < end:
        out.update(start=start, end=end)
    return out


def suggestions(room_id: int, rng: SlotRange, title: str = "",
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
        rooms = list(s.scalars(room_list()))
        held = blocked(s, state().maker, st, rooms, rng.day, g.user.id, keep)
    size = next((r.capacity for r in rooms if r.id == room_id), 0)
    others = sorted((r for r in rooms if r.id != room_id and r.capacity >= size),
                    key=lambda r: (r.capacity, r.name))
    starts = grid.nearest_free(held.get(room_id, set()), rng.start, length,
                               st.slots_per_day, first)
    return {"same_room": [(times[a], times[a + length]) for a in sorted(starts)],
            "other_rooms": [r for r in others
                            if grid.free_for(held.get(r.id, set()), rng.start, length)],
            "start": times[rng.start], "end": times[rng.end], "title": title,
            "room_id": room_id, "day": rng.day}


def _room_page(room_id: int, day: date, status: int = 200, suggest: dict[str, Any] | None = None,
               **form: Any) -> Any:
    with state().maker() as s:
        room = bookable(s, room_id)
        if room is None:
            abort(404)
        rows = _rows(s, [room], [day], room_id)
        arriving = _arriving(s, room_id)
        people = (list(s.scalars(select(User).where(User.disabled_at.is_(None))
                                 .order_by(User.name))) if g.user.may_book_for_others else [])
    return page("room.html", status, room=room, day=day, rows=rows, suggest=suggest,
                key=secrets.token_urlsafe(16), form=form, arriving=arriving, people=people,
                **_grid_context(day))


def _arriving(s: Any, room_id: int) -> Booking | None:
    """The signed-in person's booking of this room whose check-in is open
    now (the room's page on a tablet at the door, or a phone, checks in)."""
    st = state()
    now = datetime.now(UTC)
    found = current(st.maker, st.settings)
    if not found.checkin_minutes:
        return None
    today = now.astimezone(st.settings.tz).date()
    mine = s.scalars(select(Booking).where(
        Booking.user_id == g.user.id, Booking.room_id == room_id, Booking.day == today,
        Booking.status == "confirmed", Booking.checked_in_at.is_(None)))
    return next((b for b in mine if checkin_state(found, st.settings, b, now) == "open"), None)


@web.get("/rooms/<int(min=1, max=2147483647):room_id>")
@signed_in()
def room(room_id: int) -> Any:
    day = _day()
    return _room_page(room_id, day, **prefill(request.args.get("start", ""),
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
    except BadInput as exc:
        flash(str(exc), "error")
        return _room_page(room_id, datetime.now(UTC).astimezone(st.settings.tz).date(), 400)
    form = {"start": start, "end": end, "title": title}
    if len(title) > TITLE_MAX:
        flash(gettext("The title may have at most %(n)s characters.", n=TITLE_MAX), "error")
        return _room_page(room_id, day, 400, **form)
    if len(key) < 8:
        flash(gettext("The form was incomplete; please try again."), "error")
        return _room_page(room_id, day, 400, **form)
    form.update(repeat=f.get("repeat", ""), until=f.get("until", ""), beyond=beyond(),
                for_user=f.get("for_user", ""))
    try:
        rng = parse_range(st.settings, day_text, start, end, datetime.now(UTC))
        who = _for_whom(form["for_user"])
        if form["repeat"]:
            return book_series_form(room_id, rng, form, key, who)
        verdict = judge(st.maker, st.settings, rng, room_id, bool(form["beyond"]))
        outcome = book(st.maker, user_id=who, room_id=room_id, rng=rng, title=title,
                       key=key, now=utcnow(), per_week=verdict.per_week, due=verdict.due,
                       booked_by=g.user.id if who != g.user.id else None)
    except BadInput as exc:
        flash(str(exc), "error")
        return _room_page(room_id, day, 400, **form)
    except RuleBroken as exc:
        flash(against_rules(exc), "error")
        return _room_page(room_id, day, 422, **form)
    except Conflict:
        mine = same_as_mine(st.maker, who, room_id, rng, title)
        if mine is not None:
            flash(gettext("You had already booked this: %(start)s-%(end)s on %(day)s.",
                          start=start, end=end, day=longdate(day)), "ok")
            return redirect(url_for("web.bookings", booked=mine))
        flash(gettext("Sorry: this room is already booked for part of %(start)s-%(end)s on "
                      "%(day)s. Pick another time or another room.", start=start, end=end,
                      day=longdate(day)), "error")
        return _room_page(room_id, day, 409, suggest=suggestions(room_id, rng, title), **form)
    except KeyReused:
        flash(gettext("This form was already used for another booking; please try again."),
              "error")
        return _room_page(room_id, day, 422, **form)
    except NotFound:
        abort(404)
    flash(gettext("Booked: %(start)s-%(end)s on %(day)s.", start=start, end=end,
                  day=longdate(day)), "ok")
    return redirect(url_for("web.bookings", booked=outcome.booking.id))


def _for_whom(field: str) -> int:
    """Whom a booking is for: the signed-in person, or (an administrator, or
    someone given the right) the person chosen. BadInput names the field."""
    if not field or field == str(g.user.id):
        return int(g.user.id)
    if not g.user.may_book_for_others:
        raise BadInput("for: you may book only for yourself")
    with state().maker() as s:
        other = active(s.get(User, int(field))) if field.isdigit() and len(field) < 10 else None
    if other is None:
        raise BadInput("for: no such person")
    return other.id


def beyond() -> str:
    """"on" when an administrator books beyond the rules, saying so."""
    return "on" if g.user.is_admin and request.form.get("beyond") == "on" else ""


def against_rules(exc: RuleBroken, moved: bool = False) -> str:
    words = (gettext("Not moved: %(why)s.", why=exc) if moved
             else gettext("Not booked: %(why)s.", why=exc))
    if g.user.is_admin:
        words += " " + gettext("As an administrator you may book beyond the rules: tick "
                               "Beyond the rules.")
    return words


@web.get("/bookings")
@signed_in()
def bookings() -> Any:
    st = state()
    with st.maker() as s:
        rows = list(s.execute(select(Booking, Room.name).join(Room).where(
            or_(Booking.user_id == g.user.id, Booking.booked_by == g.user.id))
            .order_by(Booking.day, Booking.start_slot)))
        names = dict(s.execute(select(User.id, User.name).where(User.id.in_(
            {b.user_id for b, _ in rows} | {b.booked_by for b, _ in rows if b.booked_by}))).all())
        feeds = [(f, f.room.name if f.room else None) for f in my_feeds(s, g.user.id)]
        undo = undoable(s, request.args.get("cancelled", ""), g.user, utcnow())
    found, now = current(st.maker, st.settings), datetime.now(UTC)
    items = [{"b": b, "room": name, "start": f"{time_of(st.settings, b.start_slot):%H:%M}",
              "end": f"{time_of(st.settings, b.end_slot):%H:%M}",
              "status": b.status, "checkin": checkin_state(found, st.settings, b, now),
              "for": names.get(b.user_id, "") if b.user_id != g.user.id else "",
              "by": names.get(b.booked_by or 0, "") if b.booked_by not in (None, g.user.id)
              else ""}
             for b, name in rows]
    for i in items:
        if i["checkin"] == "late":
            i["status"] = "released"  # not checked in in time; freed at the next booking
    new_feed = session.pop("new_feed", None)
    return page("bookings.html", items=items, feeds=feeds, undo=undo, new_feed=new_feed,
                webcal=new_feed and "webcal://" + new_feed.split("://", 1)[1])


@web.get("/photos/<path:name>")
def photo(name: str) -> Any:
    # Behind Apache the volume serves these directly; this is the fallback.
    return send_from_directory(state().settings.upload_dir, name)
