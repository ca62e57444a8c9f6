"""The booking rules in the database: read (kept a few seconds per process:
every booking asks, and they change rarely), written by an administrator,
and judged for one booking (rules.py decides)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from roombook import rules
from roombook.config import Settings
from roombook.models import Booking, ClosedDay, SiteRules, User
from roombook.slots import SlotRange

log = logging.getLogger("roombook.rules")
KEEP_S = 5.0  # another process sees a change of the rules (closed days too) within this long
# Per database (its sessionmaker): when each was read, and what.
_cache: weakref.WeakKeyDictionary[sessionmaker[Session], tuple[float, rules.Rules]] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()


class RuleBroken(Exception):
    """A booking breaks the site's rules; the message says which, in words."""


def current(maker: sessionmaker[Session], settings: Settings) -> rules.Rules:
    """The site's rules (none when no administrator set any)."""
    now = time.monotonic()
    with _lock:
        kept = _cache.get(maker)
    if kept is not None and now - kept[0] < KEEP_S:
        return kept[1]
    yesterday = datetime.now(UTC).astimezone(settings.tz).date() - timedelta(days=1)
    with maker() as s:
        row = s.get(SiteRules, 1)
        closed = tuple(rules.Closed(c.day, c.room_id, c.name)
                       for c in s.scalars(closed_days_from(yesterday)))
    found = rules.Rules(closed=closed) if row is None else rules.Rules(
        row.longest_minutes, row.ahead_days, row.per_week, _hours(row.hours, settings),
        row.checkin_minutes, closed, row.checkin_since)
    with _lock:
        _cache[maker] = (now, found)
    return found


def _hours(text: str, settings: Settings) -> dict[int, rules.Hours]:
    """The saved opening hours; none, said in the log, when they no longer
    fit the site's day (ROOMBOOK_DAY_START/END changed since): every
    booking failing on them would be worse."""
    try:
        return rules.parse_hours(text, settings)
    except rules.BadRule as exc:
        log.warning("the saved opening hours are ignored: %s", exc)
        return {}


def forget(maker: sessionmaker[Session]) -> None:
    """This process reads the rules again at the next booking (just saved)."""
    with _lock:
        _cache.pop(maker, None)


def closed_days_from(first: date) -> Select[tuple[ClosedDay]]:
    return select(ClosedDay).where(ClosedDay.day >= first).order_by(ClosedDay.day)


@dataclass(frozen=True)
class Verdict:
    """What a booking's own transaction still judges: the weekly count
    (None: none), and which bookings of today are released for not being
    checked in (rules.due_cut)."""

    per_week: int | None = None
    due: rules.Due | None = None


def judge(maker: sessionmaker[Session], settings: Settings, rng: SlotRange, room_id: int,
          beyond: bool) -> Verdict:
    """Check a booking against the rules but the weekly count (RuleBroken
    says which it breaks); what the booking's transaction judges then.
    beyond: an administrator books beyond the rules, saying so (checked by
    the caller): no rule is judged."""
    found = current(maker, settings)
    now = datetime.now(UTC)
    due = rules.due_cut(found, settings, now)
    if beyond or not found.any:
        return Verdict(None, due)
    problems = rules.broken(found, rng, room_id, found.closed, settings,
                            now.astimezone(settings.tz).date())
    if problems:
        raise RuleBroken("; ".join(problems))
    return Verdict(found.per_week, due)


def refused_dates(maker: sessionmaker[Session], settings: Settings, days: list[date],
                  rng: SlotRange, room_id: int, beyond: bool) -> dict[date, str]:
    """A series' dates that the rules refuse (all but the weekly count), and
    why, in words."""
    found = current(maker, settings)
    if beyond or not found.any or not days:
        return {}
    closed = found.closed
    today = datetime.now(UTC).astimezone(settings.tz).date()
    out = {}
    for d in days:
        problems = rules.broken(found, SlotRange(d, rng.start, rng.end), room_id, closed,
                                settings, today)
        if problems:
            out[d] = "; ".join(problems)
    return out


def hold_week(s: Session, user_id: int, day: date, per_week: int | None,
              adding: int = 1) -> str | None:
    """In a booking's transaction: the person's row locked (two bookings of
    the same person wait for each other), then their confirmed bookings of
    that week counted; what is wrong, in words, if one more is too many."""
    if not per_week:
        return None
    s.execute(select(User.id).where(User.id == user_id).with_for_update())
    monday, next_monday = rules.week_of(day)
    mine = s.scalar(select(func.count()).select_from(Booking).where(
        Booking.user_id == user_id, Booking.status == "confirmed",
        Booking.day >= monday, Booking.day < next_monday)) or 0
    problem = rules.over_quota(rules.Rules(per_week=per_week), mine, adding)
    return problem[0].upper() + problem[1:] if problem else None
