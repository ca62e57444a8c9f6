"""Check-in, where the site asks for it (Booking rules, "released when not
checked in"): from 15 minutes before a booking's start until the set
minutes after, the booker says they came (My bookings, or the API); a
booking not checked in by then is released, its slots free for others, and
the booker reads why in My bookings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, url_for

from roombook.app import state
from roombook.booking import Cancelled, NotFound
from roombook.checkin import TooEarly, TooLate, check_in, window_of
from roombook.pages import signed_in

checkins = Blueprint("checkins", __name__)


@checkins.post("/bookings/<int(min=1, max=2147483647):booking_id>/checkin")
@signed_in()
def checkin(booking_id: int) -> Any:
    try:
        check_in(state().maker, booking_id=booking_id, user=g.user, now=datetime.now(UTC),
                 window=window_of)
    except (NotFound, Cancelled):
        abort(404)
    except TooEarly as exc:
        flash(f"Not yet: {exc}.", "error")
    except TooLate as exc:
        flash(f"Sorry, {exc}.", "error")
    else:
        flash("Checked in: the room is yours.", "ok")
    return redirect(url_for("web.bookings")), 303
