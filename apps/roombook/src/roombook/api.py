"""The JSON API under /api/ (described at /api/openapi.json)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from roombook import auth, find, throttle
from roombook.api_io import (
    BadRequest,
    Forbidden,
    beyond_rules,
    body,
    booking_json,
    for_whom,
    idempotency_key,
    new,
    now,
    room_json,
)
from roombook.api_schema import BookingChange, Login, NewBooking, NewSeries, read
from roombook.availability import blocked
from roombook.booking import Bearer, Conflict, KeyReused, NotFound, Unauthorized, book
from roombook.changes import Cancelled, Change, cancel, edit
from roombook.checkin import TooEarly, TooLate, check_in, window_of
from roombook.context import error, state, utcnow
from roombook.models import (
    Booking,
    Room,
    User,
    bookable,
    may_change,
    room_list,
    valid_user,
)
from roombook.occupancy import taken
from roombook.openapi import document
from roombook.pages import sign_out
from roombook.rules_db import RuleBroken, current, judge, refused_dates
from roombook.series import SeriesConflict, book_series, cancel_series, dates, taken_days
from roombook.slots import BadInput, SlotRange, parse_day, parse_range, time_of

api = Blueprint("api", __name__, url_prefix="/api")
PUBLIC = {"api.login", "api.openapi"}
# Endpoints that check the token's user in their own first statement (see
# booking.Bearer): no lookup of the user before them.
SELF_CHECKED = {"api.create_booking"}


@api.before_request
def authenticate() -> object:
    g.user = None
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    st = state()
    found = None
    if header.startswith("Bearer "):
        found = auth.read_token(st.settings.secret_key, header[7:].strip(),
                                st.settings.token_hours * 3600)
    if found is not None and request.endpoint in SELF_CHECKED:
        g.bearer = Bearer(*found)
        return None
    if found is not None:
        with st.maker() as s:
            g.user = valid_user(s, *found)
    if g.user is None:
        return unauthorized()
    return None


def unauthorized() -> object:
    return error(401, "unauthorized", "sign in first: POST /api/login, then send "
                                      "Authorization: Bearer TOKEN")


@api.errorhandler(BadRequest)
@api.errorhandler(BadInput)
def bad_request(exc: Exception) -> object:
    return error(400, "bad_request", str(exc))


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@api.post("/login")
def login() -> object:
    sent = read(Login, body())
    tried = throttle.attempt(state().maker, sent.email.strip().lower()[:254],
                             sent.password[:1024],
                             request, utcnow())
    if tried.wait_s:
        answer = error(429, "too_many_attempts",
                       f"too many failed sign-ins: try again in {tried.wait_s:.0f} s")
        return answer[0], 429, {"Retry-After": str(int(tried.wait_s) + 1)}
    if tried.unavailable:
        return error(503, "unavailable", "signing in is not possible on this copy of the "
                     "service; please retry")
    user = tried.user
    if user is None:
        return error(401, "unauthorized", "unknown email or wrong password")
    return jsonify(token=auth.make_token(state().settings.secret_key, user.id),
                   user={"id": user.id, "name": user.name, "email": user.email})


@api.post("/logout")
def logout() -> Response:
    """End every API token and web session of the caller made before now."""
    sign_out(g.user.id)
    return jsonify(signed_out=True)


@api.get("/rooms")
def rooms() -> Response:
    with state().maker() as s:
        return jsonify([room_json(r) for r in s.scalars(room_list())])


@api.get("/rooms/free")
def free_rooms() -> Response:
    """The rooms that fit (people, equipment) and are free for a time, the
    closest fit first."""
    st = state()
    a = request.args
    rng = parse_range(st.settings, a.get("date", ""), a.get("start", ""), a.get("end", ""),
                      now())
    try:
        need = find.need_of(a.get("people"), a.get("equipment"))
    except find.BadNeed as exc:
        raise BadRequest(str(exc)) from None
    with st.maker() as s:
        rooms = list(s.scalars(room_list()))
        held = blocked(s, st.maker, st.settings, rooms, rng.day, g.user.id)
    free = find.free_now(rooms, held, rng.start, rng.end - rng.start, need)
    return jsonify([room_json(r) for r in free])


def _room(s: Any, room_id: int) -> Room:
    room = bookable(s, room_id)
    if room is None:
        raise NotFound(f"no room {room_id}")
    return room


@api.errorhandler(NotFound)
def not_found(exc: NotFound) -> object:
    return error(404, "not_found", str(exc))


@api.get("/rooms/<int(min=1, max=2147483647):room_id>")
def room(room_id: int) -> Response:
    with state().maker() as s:
        return jsonify(room_json(_room(s, room_id)))


@api.get("/rooms/<int(min=1, max=2147483647):room_id>/availability")
def availability(room_id: int) -> Response:
    st = state()
    day = parse_day(request.args.get("date"), st.settings, now())
    with st.maker() as s:
        _room(s, room_id)
        held = taken(s, room_id, day)
    slots = [{"start": f"{time_of(st.settings, i):%H:%M}",
              "end": f"{time_of(st.settings, i + 1):%H:%M}", "free": i not in held}
             for i in range(st.settings.slots_per_day)]
    return jsonify(date=day.isoformat(), timezone=st.settings.timezone,
                   slot_minutes=st.settings.slot_minutes, slots=slots)


@api.get("/bookings")
def my_bookings() -> Response:
    with state().maker() as s:
        rows = s.scalars(select(Booking).where(Booking.user_id == g.user.id)
                         .order_by(Booking.day, Booking.start_slot))
        return jsonify([booking_json(b) for b in rows])


@api.errorhandler(Forbidden)
def forbidden(exc: Forbidden) -> object:
    return error(403, "forbidden", str(exc))


@api.errorhandler(RuleBroken)
def against_rules(exc: RuleBroken) -> object:
    return error(422, "against_rules", f"{exc} (an administrator may send beyond_rules: true)")


def _bearer_user(bearer: Bearer) -> User | None:
    with state().maker() as s:
        return valid_user(s, bearer.user_id, bearer.made)


@api.post("/bookings")
def create_booking() -> object:
    key = idempotency_key()
    sent = read(NewBooking, body())
    room_id, title, rng = new(sent)
    bearer: Bearer = g.bearer
    st = state()
    caller = None
    if sent.beyond_rules or sent.for_user_id is not None:  # only then is the caller looked up
        caller = _bearer_user(bearer)
        if caller is None:
            return unauthorized()
    beyond = beyond_rules(sent.beyond_rules, caller)
    who = for_whom(sent.for_user_id, bearer.user_id, caller)
    verdict = judge(st.maker, st.settings, rng, room_id, beyond)
    try:
        outcome = book(st.maker, user_id=who, room_id=room_id, rng=rng,
                       title=title, key=key, now=utcnow(), bearer=bearer,
                       per_week=verdict.per_week, due=verdict.due,
                       booked_by=bearer.user_id if who != bearer.user_id else None)
    except Unauthorized:
        return unauthorized()
    except Conflict as exc:
        return error(409, "conflict", str(exc))
    except KeyReused as exc:
        return error(422, "idempotency_key_reused", str(exc))
    status = 201 if outcome.created else 200
    return jsonify(booking_json(outcome.booking, replayed=not outcome.created)), status


@api.post("/series")
def create_series() -> object:
    """A recurring booking: every date (on_conflict "none": all or nothing) or
    every free date (on_conflict "skip"), in one transaction; preview: only
    say which dates are free."""
    sent = read(NewSeries, body())
    room_id, title, rng = new(sent)
    repeat, until, mode, preview = sent.repeat, sent.until, sent.on_conflict, sent.preview
    try:
        last = date.fromisoformat(until)
    except ValueError:
        raise BadRequest(f"until {until!r} is not a date like 2026-12-01") from None
    days = dates(rng.day, last, repeat)
    st = state()
    beyond = beyond_rules(sent.beyond_rules, g.user)
    who = for_whom(sent.for_user_id, g.user.id, g.user)
    refused = refused_dates(st.maker, st.settings, days, rng, room_id, beyond)
    if preview:
        with st.maker() as s:
            _room(s, room_id)
            busy = taken_days(s, room_id, days, rng)
        return jsonify(dates=[{"date": d.isoformat(), "free": d not in busy and d not in refused,
                               **({"closed": refused[d]} if d in refused else {})}
                              for d in days])
    try:
        done = book_series(st.maker, user_id=who, room_id=room_id, rng=rng, until=last,
                           every=repeat, title=title, key=idempotency_key(),
                           skip_taken=mode == "skip", now=utcnow(), refused=refused,
                           per_week=None if beyond else current(st.maker, st.settings).per_week,
                           booked_by=g.user.id if who != g.user.id else None)
    except SeriesConflict as exc:
        return error(409, "conflict", str(exc))
    except KeyReused as exc:
        return error(422, "idempotency_key_reused", str(exc))
    return jsonify(id=done.series.id, booked=[d.isoformat() for d in done.booked],
                   skipped=[d.isoformat() for d in done.skipped],
                   replayed=not done.created), 201 if done.created else 200


@api.delete("/series/<int(min=1, max=2147483647):series_id>")
def delete_series(series_id: int) -> Response:
    """Cancel a series' dates from a date on (?from=; default: all of them)."""
    text = request.args.get("from", "")
    try:
        first = date.fromisoformat(text) if text else date.min
    except ValueError:
        raise BadRequest(f"from {text!r} is not a date like 2026-12-01") from None
    n = cancel_series(state().maker, series_id=series_id, user=g.user, from_day=first,
                      now=utcnow())
    return jsonify(cancelled=n)


@api.get("/bookings/<int(min=1, max=2147483647):booking_id>")
def get_booking(booking_id: int) -> Response:
    with state().maker() as s:
        b = s.get(Booking, booking_id)
        if b is None or (b.user_id != g.user.id and not g.user.is_admin):
            raise NotFound(f"no booking {booking_id}")
        return jsonify(booking_json(b))


@api.patch("/bookings/<int(min=1, max=2147483647):booking_id>")
def edit_booking(booking_id: int) -> object:
    """Move a booking (room, or date with start and end) or retitle it, in one
    transaction: it moves only if the new slots are free."""
    data = body()
    sent = read(BookingChange, data)
    if not data:
        raise BadRequest("send at least one of room_id, date with start and end, title")
    room_id, title = sent.room_id, sent.title
    rng = None
    if sent.date is not None or sent.start is not None or sent.end is not None:
        if sent.date is None or sent.start is None or sent.end is None:
            raise BadRequest("to move a booking in time send date, start and end together, as "
                             "text: 2026-12-01, 09:00, 10:30")
        rng = parse_range(state().settings, sent.date, sent.start, sent.end, now=now())
    change = Change(room_id=room_id, rng=rng,
                    title=title.strip() if title is not None else None)
    st = state()
    beyond = beyond_rules(sent.beyond_rules, g.user)
    per_week = None
    if rng is not None or room_id is not None:
        with st.maker() as s:
            b = s.get(Booking, booking_id)
        if b is not None and may_change(b, g.user):
            per_week = judge(st.maker, st.settings,
                             rng or SlotRange(b.day, b.start_slot, b.end_slot),
                             room_id or b.room_id, beyond).per_week
    try:
        b = edit(st.maker, booking_id=booking_id, user=g.user, change=change, per_week=per_week)
    except Conflict as exc:
        return error(409, "conflict", str(exc))
    except Cancelled as exc:
        return error(409, "cancelled", str(exc))
    return jsonify(booking_json(b))


@api.post("/bookings/<int(min=1, max=2147483647):booking_id>/checkin")
def checkin_booking(booking_id: int) -> object:
    """Say one came, where the site asks for check-in."""
    try:
        b = check_in(state().maker, booking_id=booking_id, user=g.user, now=now(),
                     window=window_of)
    except (TooEarly, TooLate) as exc:
        return error(409, "too_early" if isinstance(exc, TooEarly) else "too_late", str(exc))
    except Cancelled as exc:
        return error(409, "cancelled", str(exc))
    return jsonify(booking_json(b))


@api.delete("/bookings/<int(min=1, max=2147483647):booking_id>")
def delete_booking(booking_id: int) -> Response:
    b = cancel(state().maker, booking_id=booking_id, user=g.user, now=utcnow())
    return jsonify(booking_json(b))
