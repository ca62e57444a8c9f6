"""Calendar feeds (iCalendar, RFC 5545, written with the icalendar library):
a person's bookings or a room's, at a secret address that calendar clients
poll. The address carries a random token; only its SHA-256 is stored, so it
is shown once, when made, and revoking it ends the feed at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, Response, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from roombook.config import Settings
from roombook.context import state, utcnow
from roombook.models import Booking, Feed, Room, User, bookable
from roombook.pages import signed_in
from roombook.slots import local_start

feeds = Blueprint("feeds", __name__)
PAST_DAYS = 30  # a feed holds bookings from this many days ago on
MAX_EVENTS = 2000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Item:
    """One booking as a calendar shows it."""

    booking_id: int
    day: date
    start_slot: int
    end_slot: int
    title: str
    room: str
    who: str
    created: datetime  # naive UTC
    revision: int = 0  # raised at each change of time, room or title
    updated: datetime | None = None  # naive UTC, the last such change


def calendar(settings: Settings, name: str, items: list[Item]) -> bytes:
    """The feed's text (pure)."""
    cal = Calendar()
    cal.add("prodid", "-//roombook//feeds//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", settings.timezone)
    for it in items:
        ev = Event()
        ev.add("uid", f"booking-{it.booking_id}@roombook")
        # Without METHOD, DTSTAMP is when the booking was last revised (RFC
        # 5545 3.8.7.2), with LAST-MODIFIED and SEQUENCE: the creation time
        # alone let clients keep a moved booking where it was.
        changed = (it.updated or it.created).replace(tzinfo=UTC)
        ev.add("dtstamp", changed)
        ev.add("created", it.created.replace(tzinfo=UTC))
        ev.add("last-modified", changed)
        ev.add("sequence", it.revision)
        ev.add("dtstart", local_start(settings, it.day, it.start_slot))
        ev.add("dtend", local_start(settings, it.day, it.end_slot))
        ev.add("summary", f"{it.title or 'Booking'} ({it.room})")
        ev.add("location", it.room)
        ev.add("description", f"Booked by {it.who}")
        ev.add("status", "CONFIRMED")
        cal.add_component(ev)
    cal.add_missing_timezones()  # a VTIMEZONE for the site's zone (DTSTART's TZID)
    return bytes(cal.to_ical())


def make(maker: sessionmaker[Session], user: User, room_id: int | None) -> str:
    """A new feed of the user's bookings (or of a room's); its token."""
    token = secrets.token_urlsafe(24)
    with maker.begin() as s:
        if room_id is not None and bookable(s, room_id) is None:
            abort(404)
        s.add(Feed(token_hash=token_hash(token), user_id=user.id, room_id=room_id,
                   created_at=utcnow()))
    return token


def items(s: Session, feed: Feed, today: date) -> list[Item]:
    q = (select(Booking, Room.name, User.name).join(Room, Booking.room_id == Room.id)
         .join(User, Booking.user_id == User.id)
         .where(Booking.status == "confirmed", Booking.day >= today - timedelta(days=PAST_DAYS)))
    q = q.where(Booking.room_id == feed.room_id) if feed.room_id is not None \
        else q.where(Booking.user_id == feed.user_id)
    rows = s.execute(q.order_by(Booking.day, Booking.start_slot).limit(MAX_EVENTS))
    return [Item(b.id, b.day, b.start_slot, b.end_slot, b.title, room, who, b.created_at,
                 b.revision, b.updated_at) for b, room, who in rows]


@feeds.get("/feeds/<string(length=32):token>.ics")
def feed(token: str) -> Response:
    """The feed itself: no sign-in, the token is the key."""
    st = state()
    with st.maker() as s:
        # A feed ends with its maker: removing a person ends their feeds.
        f = s.scalar(select(Feed).join(User, User.id == Feed.user_id).where(
            Feed.token_hash == token_hash(token), Feed.revoked_at.is_(None),
            User.disabled_at.is_(None)))
        if f is None:
            abort(404)
        today = datetime.now(st.settings.tz).date()
        name = f"roombook: {f.room.name}" if f.room is not None else "roombook: my bookings"
        body = calendar(st.settings, name, items(s, f, today))
    return Response(body, mimetype="text/calendar",
                    headers={"Cache-Control": "private, max-age=300"})


@feeds.post("/feeds")
@signed_in()
def new_feed() -> Response:
    room = request.form.get("room_id", "")
    room_id = int(room) if room.isdigit() and 0 < int(room) < 2**31 else None
    token = make(state().maker, g.user, room_id)
    url = url_for("feeds.feed", token=token, _external=True)
    # Shown once, on the next page, where it can be copied or opened in a
    # calendar (a passing message with the bare address could be neither).
    session["new_feed"] = url
    return redirect(url_for("web.bookings"))  # type: ignore[return-value]


@feeds.post("/feeds/<int(min=1, max=2147483647):feed_id>/revoke")
@signed_in()
def revoke(feed_id: int) -> Response:
    with state().maker.begin() as s:
        f = s.get(Feed, feed_id)
        if f is None or f.user_id != g.user.id:
            abort(404)
        f.revoked_at = f.revoked_at or utcnow()
    flash(gettext("Calendar address revoked: it answers no more."), "ok")
    return redirect(url_for("web.bookings"))  # type: ignore[return-value]


def mine(s: Session, user_id: int) -> list[Feed]:
    return list(s.scalars(select(Feed).where(Feed.user_id == user_id, Feed.revoked_at.is_(None))
                          .order_by(Feed.created_at)))
