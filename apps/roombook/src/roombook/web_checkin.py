"""Check-in, where the site asks for it (Booking rules, "released when not
checked in"): from 15 minutes before a booking's start until the set
minutes after, the booker says they came (My bookings, or the API); a
booking not checked in by then is released, its slots free for others, and
the booker reads why in My bookings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext

from roombook import auth
from roombook.booking import NotFound
from roombook.changes import Cancelled
from roombook.checkin import TooEarly, TooLate, check_in, window_of
from roombook.context import state
from roombook.models import Booking, Room, User
from roombook.pages import page, signed_in

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
        flash(gettext("Not yet: %(why)s.", why=exc), "error")
    except TooLate as exc:
        flash(gettext("Sorry, %(why)s.", why=exc), "error")
    else:
        flash(gettext("Checked in: the room is yours."), "ok")
    return redirect(url_for("web.bookings")), 303


@checkins.route("/checkin/<string(maxlength=300):token>", methods=["GET", "POST"])
def from_mail(token: str) -> Any:
    """The reminder's link: the booking it names, and a button that checks
    it in for its booker, signed in or not (the link is the key; the
    button, not the link, acts: a mail scanner that opens links checks
    nothing in)."""
    st = state()
    booking_id = auth.read_checkin(st.settings.secret_key, token)
    if booking_id is None:
        abort(404)
    with st.maker() as s:
        b = s.get(Booking, booking_id)
        booker = s.get(User, b.user_id) if b is not None else None
        room = s.get(Room, b.room_id) if b is not None else None
    if b is None or booker is None or room is None or booker.disabled_at is not None:
        abort(404)
    said, status = "", 200
    if request.method == "POST":
        try:
            b = check_in(st.maker, booking_id=b.id, user=booker, now=datetime.now(UTC),
                         window=window_of)
            said = gettext("Checked in: the room is yours.")
        except NotFound:
            abort(404)
        except Cancelled:
            said, status = gettext("This booking was cancelled."), 409
        except TooEarly as exc:
            said, status = gettext("Not yet: %(why)s.", why=exc), 409
        except TooLate as exc:
            said, status = gettext("Sorry, %(why)s.", why=exc), 409
    return page("checkin_link.html", status, booking=b, room=room.name, said=said,
                token=token)
