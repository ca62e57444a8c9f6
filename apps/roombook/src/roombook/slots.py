"""Booking times as slots of a day: pure functions, no database.

A booking covers slots [start, end) of one day, in the site's time zone. The
database holds one row per booked slot under a unique key, so two overlapping
bookings cannot both exist, whatever the isolation level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _

from roombook.config import Settings


class BadInput(ValueError):
    """What a person typed cannot be used; the message names the field and
    says why (a form shows it beside what was typed, the API answers 400)."""


class BadTime(BadInput):
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
        raise BadTime(_("date %(day)s is not a date like 2026-12-01", day=repr(day))) from None
    times = []
    for label, value in ((_("start"), start), (_("end"), end)):
        try:
            t = time.fromisoformat(value)
        except (TypeError, ValueError):
            raise BadTime(_("%(what)s %(value)s is not a time like 09:30", what=label,
                             value=repr(value))) from None
        if t.second or t.microsecond or t.minute % settings.slot_minutes:
            raise BadTime(_("%(what)s %(value)s is not on a %(n)s-minute boundary", what=label,
                             value=value, n=settings.slot_minutes))
        times.append(t)
    t_start, t_end = times
    if t_end <= t_start:
        raise BadTime(_("end %(end)s is not after start %(start)s", end=end, start=start))
    if t_start < settings.day_start or t_end > settings.day_end:
        raise BadTime(_("rooms can be booked from %(start)s to %(end)s",
                        start=f"{settings.day_start:%H:%M}", end=f"{settings.day_end:%H:%M}"))
    if d > now.astimezone(settings.tz).date() + timedelta(days=366):
        raise BadTime(_("bookings open at most a year ahead"))
    r = SlotRange(d, slot_of(settings, t_start), slot_of(settings, t_end))
    if local_start(settings, d, r.start) < now:
        raise BadTime(_("%(day)s %(start)s is in the past (%(zone)s)", day=d, start=start,
                         zone=settings.timezone))
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
        raise BadTime(_("date %(day)s is not a date like 2026-12-01", day=repr(value))) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadTime(_("date %(day)s is out of range (%(first)s to %(last)s)", day=value,
                         first=FIRST_DAY, last=LAST_DAY))
    return day
