"""Moving or retitling a booking from its own page: the form, and the move in
one transaction (never half-moved); a conflict offers what is free instead."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext

from roombook.booking import Conflict, NotFound
from roombook.changes import Cancelled, Change, edit
from roombook.context import state
from roombook.models import TITLE_MAX, Booking, may_change, room_list
from roombook.pages import longdate, page, signed_in
from roombook.rules_db import RuleBroken, judge
from roombook.slots import (
    BadInput,
    BadTime,
    SlotRange,
    day_times,
    parse_day,
    parse_range,
    time_of,
)
from roombook.web import against_rules, beyond, prefill, suggestions

edits = Blueprint("edits", __name__)


def _edit_page(b: Booking, status: int = 200, suggest: dict[str, Any] | None = None,
               **form: str) -> Any:
    st = state().settings
    with state().maker() as s:
        rooms = list(s.scalars(room_list()))
    kept = {"date": b.day.isoformat(), "start": f"{time_of(st, b.start_slot):%H:%M}",
            "end": f"{time_of(st, b.end_slot):%H:%M}", "room_id": str(b.room_id),
            "title": b.title}
    return page("edit.html", status, b=b, rooms=rooms, times=day_times(state().settings),
                form={**kept, **form}, suggest=suggest)


def _mine(booking_id: int) -> Booking:
    with state().maker() as s:
        b = s.get(Booking, booking_id)
    if b is None or not may_change(b, g.user) or b.status != "confirmed":
        abort(404)
    return b


@edits.get("/bookings/<int(min=1, max=2147483647):booking_id>/edit")
@signed_in()
def edit_booking(booking_id: int) -> Any:
    """The edit form; a suggestion's link fills in its room, day and times."""
    a = request.args
    form = prefill(a.get("start", ""), a.get("end", ""))
    if a.get("room_id", "").isdigit():
        form["room_id"] = a["room_id"]
    if a.get("date"):
        with contextlib.suppress(BadTime):
            form["date"] = parse_day(a["date"], state().settings, datetime.now(UTC)).isoformat()
    return _edit_page(_mine(booking_id), **form)


@edits.post("/bookings/<int(min=1, max=2147483647):booking_id>/edit")
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
            raise BadInput(f"the title may have at most {TITLE_MAX} characters")
        if not form["room_id"].isdigit():
            raise BadInput("choose a room")
        rng = parse_range(state().settings, form["date"], form["start"], form["end"],
                          datetime.now(UTC))
        per_week = None
        if (int(form["room_id"]), rng) != (b.room_id, SlotRange(b.day, b.start_slot,
                                                                 b.end_slot)):
            per_week = judge(state().maker, state().settings, rng, int(form["room_id"]),
                             bool(beyond())).per_week
        edit(state().maker, booking_id=booking_id, user=g.user,
             change=Change(room_id=int(form["room_id"]), rng=rng, title=form["title"]),
             per_week=per_week)
    except BadInput as exc:
        flash(str(exc), "error")
        return _edit_page(b, 400, **form)
    except RuleBroken as exc:
        flash(against_rules(exc, moved=True), "error")
        return _edit_page(b, 422, **form)
    except Conflict:
        flash(gettext("Sorry: that room is already booked for part of %(start)s-%(end)s on "
                      "%(day)s; the booking is unchanged. Free instead: below.",
                      start=form["start"], end=form["end"], day=longdate(rng.day)), "error")
        return _edit_page(b, 409, suggest=suggestions(int(form["room_id"]), rng,
                                                       form["title"], keep=b.id), **form)
    except (NotFound, Cancelled):
        abort(404)
    flash(gettext("Booking moved: %(start)s-%(end)s on %(day)s.", start=form["start"],
                  end=form["end"], day=longdate(rng.day)), "ok")
    return redirect(url_for("web.bookings"))
