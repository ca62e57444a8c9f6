"""What the API reads and answers: a request's JSON body, its idempotency
key and a new booking's fields, checked; a room and a booking as JSON. The
routes are api.py's."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import request, url_for

from roombook.api_schema import BadRequest, NewBooking
from roombook.context import state
from roombook.models import KEY_MAX, Booking, Room, User, active
from roombook.slots import SlotRange, local_start, parse_range, time_of

KEY_RE = re.compile(rf"^[A-Za-z0-9_.:-]{{8,{KEY_MAX}}}$")


def now() -> datetime:
    return datetime.now(UTC)


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("send a JSON object (Content-Type: application/json)")
    return data


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
        "checked_in": b.checked_in_at is not None, "user_id": b.user_id,
        "booked_by": b.booked_by,
    }


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not KEY_RE.match(key):
        raise BadRequest(f"send an Idempotency-Key header: 8 to {KEY_MAX} letters, digits "
                         "or _.:- (the same key when you retry the same request)")
    return key


def new(b: NewBooking) -> tuple[int, str, SlotRange]:
    """A new booking's or series' room, title and first range, checked."""
    return b.room_id, b.title.strip(), parse_range(state().settings, b.date, b.start, b.end,
                                                   now=now())


class Forbidden(PermissionError):
    pass


def beyond_rules(beyond: bool, user: User | None) -> bool:
    """Whether an administrator books beyond the site's rules (beyond_rules:
    true), saying so; Forbidden for anyone else."""
    if beyond and not (user is not None and user.is_admin):
        raise Forbidden("only an administrator books beyond the rules")
    return beyond


def for_whom(other: int | None, me: int, user: User | None) -> int:
    """Whom a booking is for (for_user_id): the caller, or (an
    administrator, or someone given the right) another active person."""
    if other is None or other == me:
        return me
    if user is None or not user.may_book_for_others:
        raise Forbidden("only an administrator, or a person given the right, books for "
                        "others")
    with state().maker() as s:
        if active(s.get(User, other)) is None:
            raise BadRequest(f"for_user_id: no person {other}")
    return other
