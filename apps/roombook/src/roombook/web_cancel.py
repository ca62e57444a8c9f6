"""Cancelling a booking from the pages: asked first (one click used to
cancel, styled as the main action), said with the booking's own words, and
taken back within ten minutes by whoever cancelled it if the slots are
still free. An administrator cancelling someone else's booking may say why;
the booker reads it in My bookings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext

from roombook.booking import Conflict, NotFound
from roombook.changes import Cancelled, cancel, restore
from roombook.context import state, utcnow
from roombook.models import REASON_MAX, Booking, Room, User
from roombook.pages import longdate, page, signed_in
from roombook.slots import time_of

cancels = Blueprint("cancels", __name__)


def _booking(booking_id: int, admin: bool) -> dict[str, Any]:
    """The booking to cancel, as the confirmation shows it; 404 unless it is
    confirmed and the person may cancel it."""
    with state().maker() as s:
        b = s.get(Booking, booking_id)
        if b is None or b.status != "confirmed" or not (
                g.user.id in (b.user_id, b.booked_by) or admin and g.user.is_admin):
            abort(404)
        room, who = s.get(Room, b.room_id), s.get(User, b.user_id)
    st = state().settings
    return {"b": b, "room": room.name if room else "", "who": who.name if who else "",
            "when": f"{longdate(b.day)}, {time_of(st, b.start_slot):%H:%M}-"
                    f"{time_of(st, b.end_slot):%H:%M}"}


def _confirm(booking_id: int, admin: bool) -> Any:
    item = _booking(booking_id, admin)
    back = (url_for("admin.bookings", date=item["b"].day.isoformat()) if admin
            else url_for("web.bookings"))
    return page("cancel.html", i=item, admin=admin and item["b"].user_id != g.user.id,
                action=url_for("cancels.cancel_any" if admin else "cancels.cancel_mine",
                               booking_id=booking_id),
                back=back, reason_max=REASON_MAX)


@cancels.get("/bookings/<int(min=1, max=2147483647):booking_id>/cancel")
@signed_in()
def confirm_mine(booking_id: int) -> Any:
    return _confirm(booking_id, admin=False)


@cancels.post("/bookings/<int(min=1, max=2147483647):booking_id>/cancel")
@signed_in()
def cancel_mine(booking_id: int) -> Any:
    try:
        cancel(state().maker, booking_id=booking_id, user=g.user, now=utcnow())
    except NotFound:
        abort(404)
    flash(gettext("Booking cancelled."), "ok")
    return redirect(url_for("web.bookings", cancelled=booking_id), 303)


@cancels.get("/admin/bookings/<int(min=1, max=2147483647):booking_id>/cancel")
@signed_in(admin=True)
def confirm_any(booking_id: int) -> Any:
    return _confirm(booking_id, admin=True)


@cancels.post("/admin/bookings/<int(min=1, max=2147483647):booking_id>/cancel")
@signed_in(admin=True)
def cancel_any(booking_id: int) -> Any:
    reason = request.form.get("reason", "")
    if len(reason.strip()) > REASON_MAX:
        flash(gettext("The reason may have at most %(n)s characters.", n=REASON_MAX), "error")
        return _confirm(booking_id, admin=True), 400
    try:
        b = cancel(state().maker, booking_id=booking_id, user=g.user, now=utcnow(),
                   reason=reason)
    except NotFound:
        abort(404)
    flash(gettext("Booking %(id)s cancelled.", id=booking_id), "ok")
    return redirect(url_for("admin.bookings", date=b.day.isoformat(), cancelled=booking_id),
                    303)


@cancels.post("/bookings/<int(min=1, max=2147483647):booking_id>/restore")
@signed_in()
def undo(booking_id: int) -> Any:
    try:
        b = restore(state().maker, booking_id=booking_id, user=g.user, now=utcnow())
    except NotFound:
        abort(404)
    except Cancelled as exc:
        flash(gettext("Not undone: %(why)s.", why=exc), "error")
        return redirect(url_for("web.bookings"), 303)
    except Conflict:
        flash(gettext("Not undone: the room was booked again meanwhile."), "error")
        return redirect(url_for("web.bookings"), 303)
    flash(gettext("Cancellation undone: the booking stands."), "ok")
    where = ("admin.bookings" if b.user_id != g.user.id else "web.bookings")
    return redirect(url_for(where, **({"date": b.day.isoformat()} if b.user_id != g.user.id
                                      else {})), 303)
