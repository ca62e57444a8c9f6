"""The JSON API under /api/ (described at /api/openapi.json)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request, url_for
from sqlalchemy import select

from roombook import auth
from roombook.app import error, state, utcnow
from roombook.booking import (
    Cancelled,
    Change,
    Conflict,
    KeyReused,
    NotFound,
    book,
    cancel,
    edit,
    taken,
)
from roombook.models import KEY_MAX, TITLE_MAX, Booking, Room, User
from roombook.openapi import document
from roombook.slots import BadTime, local_start, parse_day, parse_range, time_of

api = Blueprint("api", __name__, url_prefix="/api")
KEY_RE = re.compile(rf"^[A-Za-z0-9_.:-]{{8,{KEY_MAX}}}$")
PUBLIC = {"api.login", "api.openapi"}


def now() -> datetime:
    return datetime.now(UTC)


@api.before_request
def authenticate() -> object:
    g.user = None
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    st = state()
    uid = None
    if header.startswith("Bearer "):
        uid = auth.read_token(st.settings.secret_key, header[7:].strip(),
                              st.settings.token_hours * 3600)
    if uid is not None:
        with st.maker() as s:
            g.user = s.get(User, uid)
    if g.user is None:
        return error(401, "unauthorized", "sign in first: POST /api/login, then send "
                                          "Authorization: Bearer TOKEN")
    return None


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return data


class BadRequest(ValueError):
    pass


@api.errorhandler(BadRequest)
@api.errorhandler(BadTime)
def bad_request(exc: Exception) -> object:
    return error(400, "bad_request", str(exc))


def room_json(room: Room) -> dict[str, Any]:
    photo = url_for("web.photo", name=room.photo) if room.photo else None
    return {"id": room.id, "name": room.name, "capacity": room.capacity,
            "equipment": room.equipment, "photo_url": photo}


def booking_json(b: Booking, replayed: bool = False) -> dict[str, Any]:
    st = state().settings
    return {
        "id": b.id, "room_id": b.room_id, "date": b.day.isoformat(),
        "start": f"{time_of(st, b.start_slot):%H:%M}", "end": f"{time_of(st, b.end_slot):%H:%M}",
        "starts_at": local_start(st, b.day, b.start_slot).isoformat(),
        "ends_at": local_start(st, b.day, b.end_slot).isoformat(),
        "title": b.title, "status": b.status, "replayed": replayed,
    }


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@api.post("/login")
def login() -> object:
    data = body()
    email, password = data.get("email"), data.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise BadRequest("email and password are required strings")
    with state().maker() as s:
        user = s.scalar(select(User).where(User.email == email.strip().lower()[:254]))
    if not auth.check_password(user.password_hash if user else None, password[:1024]):
        return error(401, "unauthorized", "unknown email or wrong password")
    assert user is not None
    return jsonify(token=auth.make_token(state().settings.secret_key, user.id),
                   user={"id": user.id, "name": user.name, "email": user.email})


@api.get("/rooms")
def rooms() -> Response:
    with state().maker() as s:
        return jsonify([room_json(r) for r in s.scalars(select(Room).order_by(Room.name))])


def _room(s: Any, room_id: int) -> Room:
    room = s.get(Room, room_id)
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


@api.post("/bookings")
def create_booking() -> object:
    key = request.headers.get("Idempotency-Key", "")
    if not KEY_RE.match(key):
        raise BadRequest(f"send an Idempotency-Key header: 8 to {KEY_MAX} letters, digits "
                         "or _.:- (the same key when you retry the same request)")
    data = body()
    unknown = set(data) - {"room_id", "date", "start", "end", "title"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    room_id, title = data.get("room_id"), data.get("title", "")
    if not isinstance(room_id, int) or isinstance(room_id, bool) or not 0 < room_id < 2**31:
        raise BadRequest("room_id must be a room's id (a positive whole number)")
    if not isinstance(title, str) or len(title) > TITLE_MAX:
        raise BadRequest(f"title must be text of at most {TITLE_MAX} characters")
    fields = [data.get(f) for f in ("date", "start", "end")]
    if not all(isinstance(f, str) for f in fields):
        raise BadRequest("date, start and end are required, as text: 2026-12-01, 09:00, 10:30")
    st = state()
    rng = parse_range(st.settings, *fields, now=now())  # type: ignore[arg-type]
    try:
        outcome = book(st.maker, user_id=g.user.id, room_id=room_id, rng=rng,
                       title=title.strip(), key=key, now=utcnow())
    except Conflict as exc:
        return error(409, "conflict", str(exc))
    except KeyReused as exc:
        return error(422, "idempotency_key_reused", str(exc))
    status = 201 if outcome.created else 200
    return jsonify(booking_json(outcome.booking, replayed=not outcome.created)), status


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
    unknown = set(data) - {"room_id", "date", "start", "end", "title"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    if not data:
        raise BadRequest("send at least one of room_id, date with start and end, title")
    room_id, title = data.get("room_id"), data.get("title")
    if room_id is not None and (not isinstance(room_id, int) or isinstance(room_id, bool)
                                or not 0 < room_id < 2**31):
        raise BadRequest("room_id must be a room's id (a positive whole number)")
    if title is not None and (not isinstance(title, str) or len(title) > TITLE_MAX):
        raise BadRequest(f"title must be text of at most {TITLE_MAX} characters")
    fields = [data.get(f) for f in ("date", "start", "end")]
    rng = None
    if any(f is not None for f in fields):
        if not all(isinstance(f, str) for f in fields):
            raise BadRequest("to move a booking in time send date, start and end together, as "
                             "text: 2026-12-01, 09:00, 10:30")
        rng = parse_range(state().settings, *fields, now=now())  # type: ignore[arg-type]
    change = Change(room_id=room_id, rng=rng,
                    title=title.strip() if isinstance(title, str) else None)
    try:
        b = edit(state().maker, booking_id=booking_id, user=g.user, change=change)
    except Conflict as exc:
        return error(409, "conflict", str(exc))
    except Cancelled as exc:
        return error(409, "cancelled", str(exc))
    return jsonify(booking_json(b))


@api.delete("/bookings/<int(min=1, max=2147483647):booking_id>")
def delete_booking(booking_id: int) -> Response:
    b = cancel(state().maker, booking_id=booking_id, user=g.user, now=utcnow())
    return jsonify(booking_json(b))
