"""Booking: the rules that the database enforces with us (changes.py
changes and cancels a booking that exists).

The slot rows' primary key makes an overlapping booking fail at INSERT, under
any isolation level. The (user, idempotency key) unique key makes a retried
request return the booking it already made, never a second one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from roombook import outbox
from roombook.db import RETRIES, again, is_transient, writable
from roombook.models import (
    BookedSlot,
    Booking,
    Room,
    User,
    valid_user,
)
from roombook.occupancy import release_due
from roombook.rules import Due
from roombook.rules_db import RuleBroken, hold_week
from roombook.slots import SlotRange


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
                    release_due(s, room_id, due, now)
                # Tried again once, whoever released the late booking: a
                # request beside this one (a booking, a late check-in) may
                # have released it first, and this one then released nothing
                # though the slot is free. What is held after that is held.
                due = None
                continue
            raise Conflict("the room is already booked for part of that time") from None
        except OperationalError as exc:
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def retried(attempt: Callable[[], Booking], taken: str) -> Booking:
    """attempt() again after a deadlock or a lost connection (transient), up
    to RETRIES times; a slot held by another booking is a Conflict."""
    try:
        return again(attempt)
    except IntegrityError:
        raise Conflict(taken) from None


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
