"""Booking and cancelling: the rules that the database enforces with us.

The slot rows' primary key makes an overlapping booking fail at INSERT, under
any isolation level. The (user, idempotency key) unique key makes a retried
request return the booking it already made, never a second one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, delete, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from roombook import outbox
from roombook.db import writable
from roombook.grid import Holder
from roombook.models import (
    REASON_MAX,
    BookedSlot,
    Booking,
    Room,
    User,
    bookable,
    may_change,
    valid_user,
)
from roombook.rules import Due, week_of
from roombook.rules_db import RuleBroken, hold_week
from roombook.slots import SlotRange

RETRIES = 4
# MariaDB: deadlock, lock wait timeout; SQLite: database is locked.
TRANSIENT = (1213, 1205)


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The room is already booked for part of that time."""


class KeyReused(Exception):
    """The idempotency key was used before for a different request."""


class Unauthorized(Exception):
    """The token that asked was revoked (signed out) or its user removed."""


class NotWritable(Exception):
    """A retry found its booking on a database that does not accept writes:
    that copy may be one a failover is about to discard (a commit finished
    locally after its session was killed, never acknowledged by the standby),
    so it is not confirmed from here; the client retries against the primary."""


@dataclass(frozen=True)
class Bearer:
    """An API token's user and when it was made (naive UTC, whole seconds),
    checked by the booking's own INSERT rather than by a lookup before it: one
    round trip less, and a sign-out cannot slip between check and booking."""

    user_id: int
    made: datetime


@dataclass(frozen=True)
class Outcome:
    booking: Booking
    created: bool  # False: the request was a retry and returns the earlier booking


def is_transient(exc: OperationalError) -> bool:
    """A deadlock or lock wait, or a connection found dead on first use (the
    server restarted; the pool has dropped it): the same request may be sent
    again. A commit lost with its connection may have been applied; sent
    again, the idempotency key finds it and confirms it only if this copy
    accepts writes."""
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return (code in TRANSIENT or "database is locked" in str(exc.orig)
            or exc.connection_invalidated)


def _check_bearer(s: Session, bearer: Bearer | None) -> None:
    if bearer is not None and valid_user(s, bearer.user_id, bearer.made) is None:
        raise Unauthorized("this token was revoked or its user removed")


def _by_key(s: Session, user_id: int, key: str) -> Booking | None:
    return s.scalar(select(Booking).where(Booking.user_id == user_id,
                                          Booking.idempotency_key == key))


def _replay(s: Session, existing: Booking, room_id: int, rng: SlotRange) -> Outcome:
    same = (existing.room_id, existing.day, existing.start_slot, existing.end_slot) == (
        room_id, rng.day, rng.start, rng.end)
    if not same:
        raise KeyReused("this Idempotency-Key was already used for another booking")
    confirm_replay(s)
    return Outcome(existing, False)


def confirm_replay(s: Session) -> None:
    """A retry is confirmed only from a database that accepts writes (see
    NotWritable)."""
    bind = s.get_bind()
    if not writable(bind if isinstance(bind, Engine) else bind.engine):
        raise NotWritable("the database does not accept writes: retry")


BOOKING_COLUMNS = ("room_id", "user_id", "day", "start_slot", "end_slot", "title", "status",
                   "idempotency_key", "created_at", "booked_by")


def _insert(s: Session, values: tuple[object, ...], rng: SlotRange,
            bearer: Bearer | None) -> Booking | None:
    """The booking and its slots in two statements (three round trips with
    the commit): the booking row only if its room may be booked and the
    bearer's token is still good (None if not), then its slot rows in one
    multi-row INSERT, in slot order so that concurrent bookings lock in one
    order."""
    fields = dict(zip(BOOKING_COLUMNS, values, strict=True))
    room = select(*(literal(v) for v in values)).select_from(Room).where(
        Room.id == fields["room_id"], Room.removed_at.is_(None))
    if bearer is not None:
        # auth.still_valid in SQL: made (whole seconds) >= tokens_after
        # without its fraction, that is tokens_after < made + 1 s.
        room = room.join(User, User.id == bearer.user_id).where(
            User.disabled_at.is_(None),
            or_(User.tokens_after.is_(None),
                User.tokens_after < bearer.made + timedelta(seconds=1)))
    made = s.execute(insert(Booking).from_select(BOOKING_COLUMNS, room))
    if made.rowcount == 0:
        return None
    bid = made.lastrowid
    s.execute(insert(BookedSlot), [{"room_id": fields["room_id"], "day": rng.day, "slot": slot,
                                    "booking_id": bid} for slot in rng.slots])
    return Booking(id=bid, **fields)


def book(maker: sessionmaker[Session], *, user_id: int, room_id: int, rng: SlotRange,
         title: str, key: str, now: datetime, bearer: Bearer | None = None,
         per_week: int | None = None, due: Due | None = None,
         booked_by: int | None = None) -> Outcome:
    """Insert first, look only when that fails: a retry's key or a held slot
    makes the insert fail whole (IntegrityError), and only then is the
    earlier booking of that key looked up (and the bearer's token, when the
    insert found nothing to book). per_week: the site's weekly count per
    person, judged with the person's row locked (RuleBroken past it). due
    (rules.due_cut): a slot held by a booking not checked in in time is
    released, then the booking tried again. booked_by: who made it on the
    person's behalf (checked by the caller)."""
    values = (room_id, user_id, rng.day, rng.start, rng.end, title, "confirmed", key, now,
              booked_by)
    for attempt in range(RETRIES):
        try:
            with maker.begin() as s:
                over = hold_week(s, user_id, rng.day, per_week)
                if over:
                    _check_bearer(s, bearer)
                    existing = _by_key(s, user_id, key)
                    if existing is not None:  # a retry of a booking made before
                        return _replay(s, existing, room_id, rng)
                    raise RuleBroken(over)
                b = _insert(s, values, rng, bearer)
                if b is None:
                    _check_bearer(s, bearer)
                    existing = _by_key(s, user_id, key)
                    if existing is not None:  # its room was removed since
                        return _replay(s, existing, room_id, rng)
                    raise NotFound(f"no room {room_id}")
                outbox.queue(s, b.id, "confirmed", 0)
            return Outcome(b, True)
        except IntegrityError:
            with maker() as s:
                _check_bearer(s, bearer)
                existing = _by_key(s, user_id, key)
                if existing is not None:  # a retry, or a concurrent try of the same request
                    return _replay(s, existing, room_id, rng)
            if due is not None and due.day == rng.day:
                with maker.begin() as s:
                    released = release_due(s, room_id, due, now)
                if released:
                    due = None  # once: what is held after that is held
                    continue
            raise Conflict("the room is already booked for part of that time") from None
        except OperationalError as exc:
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


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
    return _retried(lambda: _edit(maker, booking_id, user, change, per_week),
                    "the room is already booked for part of that time")


def _retried(attempt: Callable[[], Booking], taken: str) -> Booking:
    """attempt() again after a deadlock or a lost connection (transient), up
    to RETRIES times; a slot held by another booking is a Conflict."""
    for n in range(RETRIES):
        try:
            return attempt()
        except IntegrityError:
            raise Conflict(taken) from None
        except OperationalError as exc:
            if not is_transient(exc) or n == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


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
    administrator cancelling someone else's may say why."""
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
    return _retried(lambda: _restore(maker, booking_id, user, now),
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


def same_as_mine(maker: sessionmaker[Session], user_id: int, room_id: int, rng: SlotRange,
                 title: str) -> int | None:
    """The id of this person's confirmed booking of exactly this room, time
    and title, if any: a form sent again (Back, then Book once more, with a
    new form's key) is that booking, not a conflict with it."""
    with maker() as s:
        return s.scalar(select(Booking.id).where(
            Booking.user_id == user_id, Booking.room_id == room_id, Booking.day == rng.day,
            Booking.start_slot == rng.start, Booking.end_slot == rng.end,
            Booking.title == title, Booking.status == "confirmed"))


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
