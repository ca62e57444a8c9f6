"""Who holds which slots: one room's day (the API), or every room over a
range of days with each holder's booking (the grids); and the holds that
lapse, bookings nobody checked in for in time (released by the next
booking of their room, or by a check-in's page)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from roombook import outbox
from roombook.grid import Holder
from roombook.models import BookedSlot, Booking, User
from roombook.rules import Due


def taken(s: Session, room_id: int, day: date) -> dict[int, int]:
    """slot -> booking id, for one room and day."""
    rows = s.execute(select(BookedSlot.slot, BookedSlot.booking_id).where(
        BookedSlot.room_id == room_id, BookedSlot.day == day))
    return {slot: bid for slot, bid in rows}


def holders(s: Session, first: date, last: date, me: int, room_id: int | None = None,
            due: Due | None = None) -> dict[tuple[int, date], dict[int, Holder]]:
    """(room id, day) -> slot -> the booking holding it, from first to last.
    due (rules.due_cut): bookings it covers that were not checked in are
    released, so their slots show free (the next booking of them releases
    them for good)."""
    q = (select(BookedSlot.room_id, BookedSlot.day, BookedSlot.slot, Booking.id, Booking.title,
                User.name, Booking.user_id, Booking.start_slot, Booking.checked_in_at,
                Booking.created_at)
         .join(Booking, BookedSlot.booking_id == Booking.id)
         .join(User, Booking.user_id == User.id)
         .where(BookedSlot.day >= first, BookedSlot.day <= last))
    if room_id is not None:
        q = q.where(BookedSlot.room_id == room_id)
    out: dict[tuple[int, date], dict[int, Holder]] = {}
    for rid, day, slot, bid, title, name, uid, start, checked_in, made in s.execute(q):
        if due is not None and checked_in is None and due.covers(day, start, made):
            continue
        out.setdefault((rid, day), {})[slot] = Holder(bid, title, name, uid == me)
    return out


def release_due(s: Session, room_id: int, due: Due, now: datetime) -> int:
    """Release a room's bookings that were not checked in in time (those
    `due` covers): their slots are freed, they say why. How many were."""
    found = s.scalars(select(Booking).where(
        Booking.room_id == room_id, Booking.day == due.day, Booking.status == "confirmed",
        Booking.start_slot <= due.last_start, Booking.checked_in_at.is_(None)).with_for_update())
    late = [b for b in found if due.covers(b.day, b.start_slot, b.created_at)]
    for b in late:
        s.execute(delete(BookedSlot).where(BookedSlot.booking_id == b.id))
        b.status, b.cancelled_at, b.cancel_reason = "released", now, "not checked in in time"
        b.revision += 1
        b.updated_at = now
        outbox.queue(s, b.id, "released", b.revision)
    return len(late)
