"""Booking rules, judged by pure functions: the longest booking, how far
ahead, bookings per person per week, opening hours per weekday and closed
days (the site's or one room's). An administrator may book beyond them,
saying so; everyone else is told, in words, which rule a booking breaks.

The opening hours are kept as text, one weekday after another:
"mon 08:00-20:00, tue 08:00-20:00, ..., sun closed"; a weekday left out is
open all the bookable day (the site's own hours, ROOMBOOK_DAY_START/END)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from flask_babel import pgettext

from roombook.config import Settings
from roombook.slots import SlotRange, local_start, time_of

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LIMITS = {"longest_minutes": (15, 24 * 60), "ahead_days": (1, 366), "per_week": (1, 500),
          "checkin_minutes": (5, 240)}
CHECKIN_EARLY = timedelta(minutes=15)  # a check-in opens this long before the start

Hours = tuple[time, time] | None  # open and close; None: closed all day


def day_name(weekday: int) -> str:
    """"Mondays"..., in the request's language, inside a sentence."""
    return (pgettext("in a sentence", "Mondays"), pgettext("in a sentence", "Tuesdays"),
            pgettext("in a sentence", "Wednesdays"), pgettext("in a sentence", "Thursdays"),
            pgettext("in a sentence", "Fridays"), pgettext("in a sentence", "Saturdays"),
            pgettext("in a sentence", "Sundays"))[weekday]


class BadRule(ValueError):
    """A rule that cannot be kept; the message names the field."""


@dataclass(frozen=True)
class Closed:
    day: date
    room_id: int | None  # None: the whole site
    name: str


@dataclass(frozen=True)
class Rules:
    longest_minutes: int | None = None
    ahead_days: int | None = None
    per_week: int | None = None
    hours: Mapping[int, Hours] = field(default_factory=dict)  # weekday 0-6; absent: open
    checkin_minutes: int | None = None  # not checked in this long after the start: released
    closed: tuple[Closed, ...] = ()  # the closed days to come
    # Check-in asks only bookings made since it was turned on (naive UTC):
    # turned on at 14:00, it does not release the meetings under way.
    checkin_since: datetime | None = None

    @property
    def any(self) -> bool:
        """Whether any rule judges a new booking (check-in judges none)."""
        return bool(self.longest_minutes or self.ahead_days or self.per_week or self.hours
                    or self.closed)


def parse_hours(text: str, settings: Settings) -> dict[int, Hours]:
    """The opening hours from their text; BadRule names the weekday."""
    out: dict[int, Hours] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, span = part.partition(" ")
        if name not in DAYS:
            raise BadRule(f"hours: {name[:10]!r} is not a weekday ({', '.join(DAYS)})")
        span = span.strip()
        if span == "closed":
            out[DAYS.index(name)] = None
            continue
        a, _, b = span.partition("-")
        try:
            opens, closes = time.fromisoformat(a), time.fromisoformat(b)
        except ValueError:
            raise BadRule(f"hours: {name} {span[:20]!r} is not like 08:00-18:00 or closed"
                          ) from None
        if not opens < closes:
            raise BadRule(f"hours: {name} opens at {a} but closes at {b}")
        if opens < settings.day_start or closes > settings.day_end:
            raise BadRule(f"hours: {name} {a}-{b} is outside the bookable day "
                          f"{settings.day_start:%H:%M}-{settings.day_end:%H:%M}")
        if any(t.minute % settings.slot_minutes or t.second for t in (opens, closes)):
            raise BadRule(f"hours: {name} {a}-{b} is not on {settings.slot_minutes}-minute "
                          "boundaries")
        out[DAYS.index(name)] = (opens, closes)
    return out


def hours_text(hours: Mapping[int, Hours]) -> str:
    return ", ".join(f"{DAYS[d]} " + ("closed" if h is None else f"{h[0]:%H:%M}-{h[1]:%H:%M}")
                     for d, h in sorted(hours.items()))


def limit(name: str, value: str) -> int | None:
    """A numeric rule from a form: empty is none; BadRule names the field."""
    if not value.strip():
        return None
    low, high = LIMITS[name]
    if not value.strip().isdigit() or len(value.strip()) > 6 or not low <= int(value) <= high:
        raise BadRule(f"{name}: a whole number from {low} to {high}, or empty for none")
    return int(value)


def week_of(day: date) -> tuple[date, date]:
    """The Monday and the next Monday of the week a day is in."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def _minutes(m: int) -> str:
    h, rest = divmod(m, 60)
    return " ".join(p for p in (f"{h} h" if h else "", f"{rest} min" if rest else "") if p)


def broken(rules: Rules, rng: SlotRange, room_id: int, closed: Sequence[Closed],
           settings: Settings, today: date) -> list[str]:
    """The rules a booking of rng in that room breaks, in words (none: []).
    The weekly count is judged apart (over_quota), with the person's row
    locked, in the booking's own transaction."""
    out = []
    length = (rng.end - rng.start) * settings.slot_minutes
    if rules.longest_minutes and length > rules.longest_minutes:
        out.append(_("a booking lasts at most %(most)s (this one %(this)s)",
                     most=_minutes(rules.longest_minutes), this=_minutes(length)))
    if rules.ahead_days and rng.day > today + timedelta(days=rules.ahead_days):
        out.append(_("rooms are booked at most %(n)s days ahead (until %(until)s)",
                     n=rules.ahead_days, until=today + timedelta(days=rules.ahead_days)))
    wd = rng.day.weekday()
    if wd in rules.hours:
        h = rules.hours[wd]
        start, end = time_of(settings, rng.start), time_of(settings, rng.end)
        if h is None:
            out.append(_("rooms are closed on %(days)s", days=day_name(wd)))
        elif start < h[0] or end > h[1]:
            out.append(_("rooms are open on %(days)s from %(start)s to %(end)s",
                         days=day_name(wd), start=f"{h[0]:%H:%M}", end=f"{h[1]:%H:%M}"))
    for c in closed:
        if c.day == rng.day and c.room_id in (None, room_id):
            out.append((_("the site is closed on %(day)s", day=c.day) if c.room_id is None
                        else _("this room is closed on %(day)s", day=c.day))
                       + (f" ({c.name})" if c.name else ""))
    return out


def over_quota(rules: Rules, mine_that_week: int, adding: int = 1) -> str | None:
    """Whether adding bookings to a person's week goes past the weekly
    count, in words."""
    if rules.per_week and mine_that_week + adding > rules.per_week:
        return _("a person books at most %(n)s times a week (you have %(have)s that week)",
                 n=rules.per_week, have=mine_that_week)
    return None


def closed_slots(rules: Rules, day: date, room_id: int, closed: Sequence[Closed],
                 settings: Settings) -> set[int]:
    """The slots of a room's day that the opening hours and closed days
    close (the grid shows them closed)."""
    n = settings.slots_per_day
    if any(c.day == day and c.room_id in (None, room_id) for c in closed):
        return set(range(n))
    wd = day.weekday()
    if wd not in rules.hours:
        return set()
    h = rules.hours[wd]
    if h is None:
        return set(range(n))
    return {i for i in range(n)
            if time_of(settings, i) < h[0] or time_of(settings, i + 1) > h[1]}


@dataclass(frozen=True)
class Due:
    """Which bookings, not checked in, are released by now: today's that
    start at or before last_start and were made since check-in was on."""

    day: date
    last_start: int
    since: datetime | None  # naive UTC

    def covers(self, day: date, start_slot: int, created_at: datetime) -> bool:
        return (day == self.day and start_slot <= self.last_start
                and (self.since is None or created_at >= self.since))


def due_cut(rules: Rules, settings: Settings, now: datetime) -> Due | None:
    """Check-in: which bookings are released by now (None: no check-in, or
    none due yet). Only today's can be due: later ones have not started,
    and the slots of earlier ones are past."""
    if not rules.checkin_minutes:
        return None
    late = timedelta(minutes=rules.checkin_minutes)
    today = now.astimezone(settings.tz).date()
    due = [i for i in range(settings.slots_per_day)
           if local_start(settings, today, i) + late <= now]
    return Due(today, due[-1], rules.checkin_since) if due else None


def checkin_window(rules: Rules, settings: Settings, day: date, start_slot: int,
                   created_at: datetime) -> tuple[datetime, datetime] | None:
    """When a booking may be checked in: from CHECKIN_EARLY before its start
    until checkin_minutes after (None: the site does not ask this booking,
    made before check-in was turned on, or at all)."""
    if not rules.checkin_minutes or (rules.checkin_since is not None
                                     and created_at < rules.checkin_since):
        return None
    start = local_start(settings, day, start_slot)
    return start - CHECKIN_EARLY, start + timedelta(minutes=rules.checkin_minutes)
