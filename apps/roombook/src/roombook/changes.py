"""Changing a booking that exists: moving or retitling it, cancelling it
(one, or many at once), taking a cancellation back. Each in one
transaction that frees and takes its slot rows together, so a booking is
never half-moved, and a slot held by another booking fails the change
(Conflict), never doubles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from roombook import outbox
from roombook.booking import NotFound, retried
from roombook.db import again
from roombook.models import REASON_MAX, BookedSlot, Booking, User, bookable, may_change
from roombook.rules import week_of
from roombook.rules_db import RuleBroken, hold_week
from roombook.slots import SlotRange


class Cancelled(Exception):
    """A cancelled booking cannot be edited."""


@dataclass(frozen=True)
class Change:
    """What an edit asks for; None: keep as it is."""

    room_id: int | None = None
    rng: SlotRange | None = None
    title: str | None = None


def edit(maker: sessionmaker[Session], *, booking_id: int, user: User, change: Change,
         per_week: int | None = None) -> Booking:
    """Move or retitle a booking in one transaction: its old slots are freed
    and its new ones taken together, so it is never half-moved, and a slot
    held by another booking fails the whole edit (Conflict), never doubles.
    The same edit sent twice gives the same booking. A deadlock between
    concurrent moves is tried again, as a booking is. per_week: a move into
    another week counts there (RuleBroken past the weekly count)."""
    return retried(lambda: _edit(maker, booking_id, user, change, per_week),
                    "the room is already booked for part of that time")


def _edit(maker: sessionmaker[Session], booking_id: int, user: User, change: Change,
          per_week: int | None) -> Booking:
    with maker.begin() as s:
        b = s.get(Booking, booking_id, with_for_update=True)
        if b is None or not may_change(b, user):
            raise NotFound(f"no booking {booking_id}")
        if b.status != "confirmed":
            raise Cancelled(f"booking {booking_id} is cancelled")
        room_id = b.room_id if change.room_id is None else change.room_id
        if change.room_id is not None and bookable(s, room_id) is None:
            raise NotFound(f"no room {room_id}")
        rng = change.rng or SlotRange(b.day, b.start_slot, b.end_slot)
        moved = (room_id, rng) != (b.room_id, SlotRange(b.day, b.start_slot, b.end_slot))
        if moved and week_of(rng.day) != week_of(b.day):
            over = hold_week(s, b.user_id, rng.day, per_week)
            if over:
                raise RuleBroken(over)
        if moved:
            s.execute(delete(BookedSlot).where(BookedSlot.booking_id == b.id))
            s.flush()
            b.room_id, b.day, b.start_slot, b.end_slot = room_id, rng.day, rng.start, rng.end
            s.add_all(BookedSlot(room_id=room_id, day=rng.day, slot=slot, booking_id=b.id)
                      for slot in rng.slots)
        if change.title is not None and change.title != b.title:
            b.title = change.title
            moved = True
        if moved:
            b.revision += 1
            b.updated_at = datetime.now(UTC).replace(tzinfo=None)
            outbox.queue(s, b.id, "changed", b.revision)
        s.flush()
    return b


def cancel(maker: sessionmaker[Session], *, booking_id: int, user: User,
           now: datetime, reason: str = "") -> Booking:
    """Cancel a booking (again: a no-op); its slots become free at once. An
    administrator cancelling someone else's may say why. A deadlock (with a
    booking releasing the same room's slots) is tried again."""
    return again(lambda: _cancel(maker, booking_id, user, now, reason))


def _cancel(maker: sessionmaker[Session], booking_id: int, user: User, now: datetime,
            reason: str) -> Booking:
    with maker.begin() as s:
        b = s.get(Booking, booking_id, with_for_update=True)
        if b is None or not may_change(b, user):
            raise NotFound(f"no booking {booking_id}")
        if b.status == "confirmed":
            s.execute(delete(BookedSlot).where(BookedSlot.booking_id == b.id))
            b.status = "cancelled"
            b.cancelled_at = now
            b.cancelled_by = user.id
            b.cancel_reason = reason.strip()[:REASON_MAX] or None
            if user.id != b.user_id:  # someone else cancelled it: the booker is told
                outbox.queue(s, b.id, "cancelled", b.revision)
    return b


UNDO_S = 600  # how long the one who cancelled may take it back


def undoable(s: Session, text: str, user: User, now: datetime) -> int | None:
    """The booking id in `text` if that person cancelled it and may still
    take it back (the pages offer an undo button then)."""
    if not text.isdigit() or len(text) > 10:
        return None
    b = s.get(Booking, int(text))
    if (b is None or b.status != "cancelled" or b.cancelled_by != user.id
            or b.cancelled_at is None or (now - b.cancelled_at).total_seconds() > UNDO_S):
        return None
    return b.id


def restore(maker: sessionmaker[Session], *, booking_id: int, user: User,
            now: datetime) -> Booking:
    """Undo a cancellation: by the one who made it, within UNDO_S, if the
    slots are still free (Conflict otherwise)."""
    return retried(lambda: _restore(maker, booking_id, user, now),
                    "the room was booked again meanwhile")


def _restore(maker: sessionmaker[Session], booking_id: int, user: User,
             now: datetime) -> Booking:
    with maker.begin() as s:
        b = s.get(Booking, booking_id, with_for_update=True)
        if b is None or b.cancelled_by != user.id or b.cancelled_at is None:
            raise NotFound(f"no booking {booking_id} cancelled by you")
        if b.status == "confirmed":
            return b  # undone already (a double click)
        if (now - b.cancelled_at).total_seconds() > UNDO_S:
            raise Cancelled(f"booking {booking_id} was cancelled too long ago to undo")
        s.add_all(BookedSlot(room_id=b.room_id, day=b.day, slot=n, booking_id=b.id)
                  for n in range(b.start_slot, b.end_slot))
        b.status, b.cancelled_at, b.cancelled_by, b.cancel_reason = (
            "confirmed", None, None, None)
        b.revision, b.updated_at = b.revision + 1, now
        outbox.queue(s, b.id, "confirmed", b.revision)
        s.flush()
    return b


def cancel_all(s: Session, ids: list[int], now: datetime, by: int | None = None,
               reason: str = "") -> None:
    """Cancel these bookings in the session's transaction: their slots free
    at once (an administrator's removals, a series from a date on). by:
    someone else (an administrator), who is named to the bookers, and why."""
    if ids:
        s.execute(delete(BookedSlot).where(BookedSlot.booking_id.in_(ids)))
        s.execute(update(Booking).where(Booking.id.in_(ids))
                  .values(status="cancelled", cancelled_at=now, cancelled_by=by,
                          cancel_reason=reason[:REASON_MAX] or None))
        if by is not None:
            told = list(s.scalars(select(Booking.id).join(User, User.id == Booking.user_id)
                                  .where(Booking.id.in_(ids), Booking.user_id != by,
                                         User.disabled_at.is_(None))))
            outbox.queue_many(s, told, "cancelled")
