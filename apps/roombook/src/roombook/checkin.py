"""Check-in, where the site asks for it: a booking's check-in window under
the site's current rules, its state now, and the check-in itself (the
booking row locked, so that a check-in and the release of the same booking
cannot both happen; occupancy.release_due releases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from roombook import rules
from roombook.booking import NotFound
from roombook.changes import Cancelled
from roombook.config import Settings
from roombook.context import state
from roombook.db import again
from roombook.models import Booking, User
from roombook.occupancy import release_due
from roombook.rules import Due
from roombook.rules_db import current


def checkin_state(found: rules.Rules, settings: Settings, b: Booking, now: datetime) -> str:
    """"" (none asked), "done", "soon" (not open yet), "open" or "late"."""
    window = rules.checkin_window(found, settings, b.day, b.start_slot, b.created_at)
    if window is None or b.status != "confirmed":
        return ""
    if b.checked_in_at is not None:
        return "done"
    opens, closes = window
    return "soon" if now < opens else "open" if now < closes else "late"


def window_of(b: Booking) -> tuple[datetime, datetime] | None:
    st = state()
    return rules.checkin_window(current(st.maker, st.settings), st.settings, b.day,
                                b.start_slot, b.created_at)


class TooEarly(Exception):
    """A check-in before its window opens; the message says when it does."""


class TooLate(Exception):
    """A check-in after its window closed: the booking was released."""


def check_in(maker: sessionmaker[Session], *, booking_id: int, user: User, now: datetime,
             window: Callable[[Booking], tuple[datetime, datetime] | None]) -> Booking:
    """Say one came: within the booking's window (rules.checkin_window),
    the booking row locked, so a check-in and the release of the same
    booking cannot both happen; a late one releases it (TooLate). A
    deadlock with a booking releasing the same slots is tried again (the
    row is read afresh: one that was released meanwhile is TooLate)."""
    b, late = again(lambda: _check_in(maker, booking_id, user, now, window))
    if late:
        raise TooLate("too late: the booking was released for others")
    return b


def _check_in(maker: sessionmaker[Session], booking_id: int, user: User, now: datetime,
              window: Callable[[Booking], tuple[datetime, datetime] | None],
              ) -> tuple[Booking, bool]:
    """The booking, and whether it was late (released now)."""
    with maker.begin() as s:
        b = s.get(Booking, booking_id, with_for_update=True)
        if b is None or b.user_id != user.id:
            raise NotFound(f"no booking {booking_id}")
        if b.status == "released":
            raise TooLate("this booking was released: it was not checked in in time")
        if b.status != "confirmed":
            raise Cancelled(f"booking {booking_id} is cancelled")
        if b.checked_in_at is not None:
            return b, False
        opens_closes = window(b)
        if opens_closes is None:
            return b, False  # the site does not ask for check-in
        opens, closes = opens_closes
        if now < opens:
            raise TooEarly(f"check-in opens at {opens:%H:%M}")
        naive = now.astimezone(UTC).replace(tzinfo=None)
        late = now >= closes
        if late:
            release_due(s, b.room_id, Due(b.day, b.start_slot, None), naive)  # then said
        else:
            b.checked_in_at = naive
    return b, late
