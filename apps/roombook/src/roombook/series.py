"""Recurring bookings: the same room and times every day or every week until
a date. A series is booked in one transaction (all its free dates or none of
them), under one idempotency key; each date is a booking of its own, held by
its slot rows like any other, so a series can never double-book a slot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from roombook.booking import KeyReused, NotFound, confirm_replay
from roombook.changes import cancel_all
from roombook.db import RETRIES, again, is_transient
from roombook.models import BookedSlot, Booking, Series, User, bookable
from roombook.rules import week_of
from roombook.rules_db import RuleBroken, hold_week
from roombook.slots import BadTime, SlotRange

MAX_DATES = 52
EVERY = ("daily", "weekdays", "weekly", "monthly")


def _monthly(first: date, until: date) -> list[date]:
    """The same weekday of the same week of each month as first: the second
    Tuesday, ...; first in a month's fifth week: that weekday's last."""
    nth = (first.day - 1) // 7  # 0-based week of the month; 4: the last
    out = []
    year, month = first.year, first.month
    while True:
        start = date(year, month, 1)
        shift = (first.weekday() - start.weekday()) % 7
        candidates = [start + timedelta(days=shift + 7 * k) for k in range(5)]
        in_month = [d for d in candidates if d.month == month]
        d = in_month[-1] if nth >= 4 else in_month[nth]
        if d > until:
            return out
        out.append(d)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def too_many(n: int) -> str:
    return _("a series has at most %(most)s dates; this one would have %(n)s", most=MAX_DATES,
             n=n)


def dates(first: date, until: date, every: str) -> list[date]:
    """The dates of a series (pure); BadTime says what is wrong. daily: every
    day; weekdays: Monday to Friday; weekly: the same weekday; monthly: the
    same weekday of the same week of the month (the second Tuesday)."""
    if every not in EVERY:
        raise BadTime(_("repeat must be one of %(kinds)s", kinds=", ".join(EVERY)))
    if until < first:
        raise BadTime(_("until %(until)s is before the first date %(first)s", until=until,
                         first=first))
    span = (until - first).days
    weeks, rest = divmod(span + 1, 7)
    n = {"daily": span + 1, "weekly": span // 7 + 1,
         "weekdays": weeks * 5 + sum((first.weekday() + i) % 7 < 5 for i in range(rest)),
         "monthly": (until.year - first.year) * 12 + until.month - first.month + 1}[every]
    if n > MAX_DATES + (every == "monthly"):  # a month's count may be one too many
        raise BadTime(too_many(n))
    if every == "monthly":
        out = _monthly(first, until)
    else:
        out = [first + timedelta(days=i) for i in range(0, span + 1, 7 if every == "weekly" else 1)]
        out = [d for d in out if every != "weekdays" or d.weekday() < 5]
    if len(out) > MAX_DATES:
        raise BadTime(too_many(len(out)))
    if not out:
        raise BadTime(_("no weekday from %(first)s to %(until)s", first=first, until=until))
    return out


class SeriesConflict(Exception):
    """Dates of the series that are taken (all of them, when nothing is free)."""

    def __init__(self, taken: list[date]) -> None:
        super().__init__(f"the room is taken then on {', '.join(map(str, taken))}")
        self.taken = taken


@dataclass(frozen=True)
class SeriesOutcome:
    series: Series
    booked: list[date]
    skipped: list[date]  # taken when the series was booked
    created: bool  # False: a retry of the same request


def taken_days(s: Session, room_id: int, days: list[date], rng: SlotRange) -> set[date]:
    """The dates on which part of the range is held in that room."""
    rows = s.scalars(select(BookedSlot.day).where(
        BookedSlot.room_id == room_id, BookedSlot.day.in_(days),
        BookedSlot.slot >= rng.start, BookedSlot.slot < rng.end))
    return set(rows)


def _replay(s: Session, series: Series, room_id: int, rng: SlotRange, until: date,
            every: str) -> SeriesOutcome:
    same = (series.room_id, series.first_day, series.start_slot, series.end_slot,
            series.until_day, series.every) == (room_id, rng.day, rng.start, rng.end, until, every)
    if not same:
        raise KeyReused("this Idempotency-Key was already used for another series")
    confirm_replay(s)
    booked = sorted(s.scalars(select(Booking.day).where(Booking.series_id == series.id)))
    all_days = dates(series.first_day, series.until_day, series.every)
    return SeriesOutcome(series, booked, [d for d in all_days if d not in booked], False)


def book_series(maker: sessionmaker[Session], *, user_id: int, room_id: int, rng: SlotRange,
                until: date, every: str, title: str, key: str, skip_taken: bool,
                now: datetime, refused: Mapping[date, str] | None = None,
                per_week: int | None = None, booked_by: int | None = None) -> SeriesOutcome:
    """Book every date of the series, or (skip_taken) every free one. A date
    taken by someone else between the look and the insert makes the insert
    fail whole; it is looked at again and, when skipping, left out.
    refused: the dates the site's rules refuse (a holiday...), skipped as
    taken ones are; per_week: the weekly count per person, judged for each
    week of the series with the person's row locked (RuleBroken)."""
    all_days = dates(rng.day, until, every)
    refused = refused or {}
    if refused and not skip_taken:
        raise RuleBroken("; ".join(f"{d}: {why}" for d, why in sorted(refused.items())))
    days = [d for d in all_days if d not in refused]
    for attempt in range(RETRIES):
        with maker() as s:
            existing = s.scalar(select(Series).where(Series.user_id == user_id,
                                                     Series.idempotency_key == key))
            if existing is not None:
                return _replay(s, existing, room_id, rng, until, every)
            if bookable(s, room_id) is None:
                raise NotFound(f"no room {room_id}")
            busy = taken_days(s, room_id, days, rng)
        free = [d for d in days if d not in busy]
        if (busy and not skip_taken) or not free:
            raise SeriesConflict(sorted(busy | set(refused)))
        try:
            with maker.begin() as s:
                for monday in sorted({week_of(d)[0] for d in free}):
                    over = hold_week(s, user_id, monday, per_week,
                                     sum(1 for d in free if week_of(d)[0] == monday))
                    if over:
                        raise RuleBroken(_("week of %(monday)s: %(why)s", monday=monday, why=over))
                series = Series(room_id=room_id, user_id=user_id, first_day=rng.day,
                                until_day=until, every=every, start_slot=rng.start,
                                end_slot=rng.end, title=title, idempotency_key=key,
                                created_at=now)
                s.add(series)
                s.flush()
                bookings = [Booking(room_id=room_id, user_id=user_id, day=d,
                                    start_slot=rng.start, end_slot=rng.end, title=title,
                                    status="confirmed", series_id=series.id,
                                    idempotency_key=f"series-{series.id}-{d.isoformat()}",
                                    created_at=now, booked_by=booked_by) for d in free]
                s.add_all(bookings)
                s.flush()
                # In (day, slot) order, so that concurrent series lock in one order.
                s.add_all(BookedSlot(room_id=room_id, day=b.day, slot=slot, booking_id=b.id)
                          for b in bookings for slot in rng.slots)
                s.flush()
            return SeriesOutcome(series, free, sorted(busy | set(refused)), True)
        except IntegrityError:
            continue  # a date was taken meanwhile (or the same request won): look again
        except OperationalError as exc:
            if not is_transient(exc) or attempt == RETRIES - 1:
                raise
    with maker() as s:
        raise SeriesConflict(sorted(taken_days(s, room_id, days, rng) | set(refused)))


def cancel_series(maker: sessionmaker[Session], *, series_id: int, user: User, from_day: date,
                  now: datetime) -> int:
    """Cancel the series' bookings on from_day and later; how many were (a
    deadlock is tried again)."""
    return again(lambda: _cancel_series(maker, series_id, user, from_day, now))


def _cancel_series(maker: sessionmaker[Session], series_id: int, user: User, from_day: date,
                   now: datetime) -> int:
    with maker.begin() as s:
        series = s.get(Series, series_id)
        if series is None or (series.user_id != user.id and not user.is_admin):
            raise NotFound(f"no series {series_id}")
        ids = list(s.scalars(select(Booking.id).where(
            Booking.series_id == series_id, Booking.day >= from_day,
            Booking.status == "confirmed").with_for_update()))
        cancel_all(s, ids, now)
        return len(ids)
