"""Booking times as slots of a day: pure functions, no database.

A booking covers slots [start, end) of one day, in the site's time zone. The
database holds one row per booked slot under a unique key, so two overlapping
bookings cannot both exist, whatever the isolation level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from roombook.config import Settings


class BadTime(ValueError):
    """A time range a booking cannot have; the message says why."""


@dataclass(frozen=True)
class SlotRange:
    day: date
    start: int  # first slot
    end: int  # one past the last slot

    @property
    def slots(self) -> range:
        return range(self.start, self.end)


def slot_of(settings: Settings, t: time) -> int:
    minutes = (t.hour * 60 + t.minute) - (settings.day_start.hour * 60 + settings.day_start.minute)
    return minutes // settings.slot_minutes


def time_of(settings: Settings, slot: int) -> time:
    base = datetime.combine(date(2000, 1, 1), settings.day_start)
    return (base + timedelta(minutes=slot * settings.slot_minutes)).time()


def day_times(settings: Settings) -> list[str]:
    """Every slot boundary of a day, "08:00" to the closing time: what the
    forms offer."""
    return [f"{time_of(settings, i):%H:%M}" for i in range(settings.slots_per_day + 1)]


def local_start(settings: Settings, day: date, slot: int) -> datetime:
    return datetime.combine(day, time_of(settings, slot), tzinfo=settings.tz)


def parse_range(settings: Settings, day: str, start: str, end: str, now: datetime) -> SlotRange:
    """Check a requested range; raise BadTime with a message a person understands."""
    try:
        d = date.fromisoformat(day)
    except (TypeError, ValueError):
        raise BadTime(f"date {day!r} is not a date like 2026-12-01") from None
    times = []
    for label, value in (("start", start), ("end", end)):
        try:
            t = time.fromisoformat(value)
        except (TypeError, ValueError):
            raise BadTime(f"{label} {value!r} is not a time like 09:30") from None
        if t.second or t.microsecond or t.minute % settings.slot_minutes:
            raise BadTime(f"{label} {value} is not on a {settings.slot_minutes}-minute boundary")
        times.append(t)
    t_start, t_end = times
    if t_end <= t_start:
        raise BadTime(f"end {end} is not after start {start}")
    if t_start < settings.day_start or t_end > settings.day_end:
        raise BadTime(f"rooms can be booked from {settings.day_start:%H:%M} "
                      f"to {settings.day_end:%H:%M}")
    if d > now.astimezone(settings.tz).date() + timedelta(days=366):
        raise BadTime("bookings open at most a year ahead")
    r = SlotRange(d, slot_of(settings, t_start), slot_of(settings, t_end))
    if local_start(settings, d, r.start) < now:
        raise BadTime(f"{d} {start} is in the past ({settings.timezone})")
    return r


# The days a view may show: far beyond any booking either way, and far
# enough from the calendar's own ends that a week or a day on either side,
# and a time zone's hours, still exist (0001-01-01 in an address was a 500).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def parse_day(value: str | None, settings: Settings, now: datetime) -> date:
    if not value:
        return now.astimezone(settings.tz).date()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadTime(f"date {value!r} is not a date like 2026-12-01") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadTime(f"date {value} is out of range ({FIRST_DAY} to {LAST_DAY})")
    return day
