"""The data: users, rooms, bookings, and the booked slots that make double
booking impossible (one row per room, day and slot, under a primary key)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Select,
    SmallInteger,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from roombook.auth import still_valid

NAME_MAX = 80
TITLE_MAX = 100
REASON_MAX = 200
EMAIL_MAX = 254
KEY_MAX = 64


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # A removed person cannot sign in; their bookings stay in the history.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Signing out ends every session and API token made before (UTC).
    tokens_after: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # May book on someone else's behalf (an assistant); administrators may anyway.
    books_for_others: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default="0")
    # The language of what is sent to them (mails): the one they last chose
    # or signed in with; None: English.
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)

    @property
    def may_book_for_others(self) -> bool:
        return self.is_admin or self.books_for_others


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    capacity: Mapped[int] = mapped_column(Integer)
    equipment: Mapped[str] = mapped_column(String(200), default="")
    photo: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # A removed room takes no booking and leaves every list; its past
    # bookings keep it in the history.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Series(Base):
    """A recurring booking: the same room and times every day or every week
    from first_day until until_day; its dates are bookings of their own."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_series_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    first_day: Mapped[date] = mapped_column(Date)
    until_day: Mapped[date] = mapped_column(Date)
    every: Mapped[str] = mapped_column(String(8))  # series.EVERY: "daily" ... "monthly"
    start_slot: Mapped[int] = mapped_column(SmallInteger)
    end_slot: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    idempotency_key: Mapped[str] = mapped_column(String(KEY_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_booking_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[date] = mapped_column(Date)
    start_slot: Mapped[int] = mapped_column(SmallInteger)
    end_slot: Mapped[int] = mapped_column(SmallInteger)
    title: Mapped[str] = mapped_column(String(TITLE_MAX), default="")
    # "confirmed", "cancelled", or "released" (not checked in in time)
    status: Mapped[str] = mapped_column(String(12), default="confirmed")
    idempotency_key: Mapped[str] = mapped_column(String(KEY_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Who cancelled it (a user id, not a key: a removed person's stays), and
    # an administrator's reason, which the booker sees.
    cancelled_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(REASON_MAX), nullable=True)
    # Raised, and the time kept, at each change of time, room or title: the
    # calendar feed's SEQUENCE and LAST-MODIFIED.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # UTC
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id"), nullable=True,
                                                  index=True)
    # Who made it, when not the person it is for (a booking on their behalf).
    booked_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # When the booker said they came (check-in, where the site asks for it).
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # UTC

    room: Mapped[Room] = relationship()
    user: Mapped[User] = relationship()


class BookedSlot(Base):
    """The guard: a slot of a room on a day can be held by one booking only."""

    __tablename__ = "booked_slots"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)


class Feed(Base):
    """A calendar feed's secret address: a person's bookings, or a room's.
    Only the token's SHA-256 is kept; revoking it ends the feed at once."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # who made it
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    room: Mapped[Room | None] = relationship()


class LoginFailure(Base):
    """Sign-in tries in a row, per account and address or per address: the next try
    waits (see throttle.py); a success takes its try back."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(DateTime)  # UTC


class SiteRules(Base):
    """The site's booking rules, one row (id 1), none when absent: the
    longest booking, how far ahead, bookings per person per week, and the
    opening hours per weekday (see rules.py for the hours' text)."""

    __tablename__ = "site_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    longest_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ahead_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    per_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hours: Mapped[str] = mapped_column(String(200), default="")
    # A booking not checked in this many minutes after its start is released;
    # only bookings made since check-in was turned on (UTC) are asked.
    checkin_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checkin_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)  # UTC


class ClosedDay(Base):
    """A day the site (room_id None) or one room is closed: a holiday, works."""

    __tablename__ = "closed_days"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id"), nullable=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="")


def bookable(s: Session, room_id: int) -> Room | None:
    """The room, unless there is none or it was removed."""
    room = s.get(Room, room_id)
    return room if room is not None and room.removed_at is None else None


def room_list() -> Select[tuple[Room]]:
    """Every room that has not been removed, by name."""
    return select(Room).where(Room.removed_at.is_(None)).order_by(Room.name)


def may_change(b: Booking, user: User) -> bool:
    """Whether a person may move or cancel a booking: the one it is for, the
    one who made it on their behalf, or an administrator."""
    return user.id in (b.user_id, b.booked_by) or user.is_admin


def active(user: User | None) -> User | None:
    """The user, unless removed."""
    return user if user is not None and user.disabled_at is None else None


def valid_user(s: Session, user_id: int, made: datetime) -> User | None:
    """The user a session or token made at `made` speaks for: none once the
    user was removed or signed out since (auth.still_valid)."""
    user = active(s.get(User, user_id))
    return user if user is not None and still_valid(made, user.tokens_after) else None


class Mail(Base):
    """The outbox: a mail owed, written in the same transaction as the change
    it tells of (a booking made, changed, cancelled or released; a reminder),
    and sent by one sender on the primary (outbox.py). It replicates with the
    booking, so a failover neither drops it nor loses that it was sent; its
    Message-ID is made here, once, so a mail sent again after a failover in
    the middle of sending is the same mail to the receiving side."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("booking_id", "kind", "revision", name="uq_outbox_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A booking deleted (the drills clear theirs) takes its mails with it.
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), nullable=True)
    # A mail to a person, not about a booking (a password reset's link).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                                nullable=True)
    # confirmed, changed, cancelled, released, reminder, reset (mail.KINDS)
    kind: Mapped[str] = mapped_column(String(12))
    revision: Mapped[int] = mapped_column(Integer)  # the booking's, when queued
    message_id: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
