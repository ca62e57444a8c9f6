"""The mails roombook sends, made from what they tell (pure).

Each tells a booker of their booking: made, changed, cancelled (by someone
else: with who and why), released (not checked in in time), or about to
start. Each but the reminder carries an iCalendar invitation (RFC 5546:
REQUEST for a booking made or changed, CANCEL for one cancelled or
released) as a text/calendar alternative, the way Outlook and Gmail file
it: the UID is the booking's (the calendar feeds' own), the SEQUENCE its
revision, so a change replaces the event rather than adding one. Each is
in its person's language (User.locale: the one they last chose or signed in
with), the invitation's fields aside (calendars show their own words)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from babel.dates import format_date
from babel.support import NullTranslations, Translations
from icalendar import Calendar, Event, vCalAddress

from roombook.config import Settings
from roombook.slots import local_start, time_of

KINDS = ("confirmed", "changed", "cancelled", "released", "reminder", "reset")
# Told with an invitation, and which method.
METHOD = {"confirmed": "REQUEST", "changed": "REQUEST", "cancelled": "CANCEL",
          "released": "CANCEL"}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DEFAULT_LOCALE = "en"


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The catalogue of a language (English, the text as written, for any
    other the site does not have)."""
    return Translations.load(str(TRANSLATIONS), [locale or DEFAULT_LOCALE])


def headline(_: Callable[[str], str], kind: str) -> str:
    return {"confirmed": _("Booked"), "changed": _("Changed"), "cancelled": _("Cancelled"),
            "released": _("Released"), "reminder": _("Reminder")}[kind]


@dataclass(frozen=True)
class Told:
    """What one mail tells, read from the database when it is sent."""

    kind: str
    message_id: str
    booking_id: int
    revision: int
    title: str
    room: str
    day: date
    start_slot: int
    end_slot: int
    to_name: str
    to_email: str
    by_name: str = ""  # who booked it for them, or who cancelled it (someone else)
    reason: str = ""  # an administrator's reason for a cancellation
    checkin_link: str = ""  # a reminder's, where the site asks for check-in
    locale: str = DEFAULT_LOCALE  # the person's language


def when(settings: Settings, t: Told) -> str:
    """Thu 26 Nov 2026 09:00-10:00, in the person's language (the pages' own form)."""
    start, end = time_of(settings, t.start_slot), time_of(settings, t.end_slot)
    day = format_date(t.day, "EEE d MMM y", locale=t.locale or DEFAULT_LOCALE)
    return f"{day} {start:%H:%M}-{end:%H:%M}"


def subject(settings: Settings, t: Told) -> str:
    _ = translations(t.locale).gettext
    what = t.title or _("Booking")
    return f"{headline(_, t.kind)}: {what}, {t.room}, {when(settings, t)}"


def signature(_: Callable[[str], str]) -> list[str]:
    return ["", "-- ", _("roombook (this mail is sent automatically)")]


def body(settings: Settings, t: Told) -> str:
    _ = translations(t.locale).gettext
    lines = [_("Hello %(name)s,") % {"name": t.to_name}, ""]
    said = {
        "confirmed": _("your booking is confirmed:"),
        "changed": _("your booking was changed; it is now:"),
        "cancelled": _("your booking was cancelled:"),
        "released": _("your booking was released, as nobody checked in in time:"),
        "reminder": _("your booking starts soon:"),
    }[t.kind]
    lines += [said, "", f"  {t.title or _('(no title)')}", f"  {t.room}",
              f"  {when(settings, t)} ({settings.timezone})", ""]
    if t.kind == "cancelled" and t.by_name:
        lines.append(_("Cancelled by %(name)s: %(reason)s") % {"name": t.by_name,
                                                               "reason": t.reason}
                     if t.reason else _("Cancelled by %(name)s.") % {"name": t.by_name})
    elif t.by_name:
        lines.append(_("Booked for you by %(name)s.") % {"name": t.by_name})
    if t.checkin_link:
        lines += [_("Check in when you arrive (from 15 minutes before the start), or the "
                    "room is released for others: %(link)s") % {"link": t.checkin_link}, ""]
    if settings.site_url:
        lines.append(_("Your bookings: %(link)s") % {"link": f"{settings.site_url.rstrip('/')}/my"})
    lines += signature(_)
    return "\n".join(lines) + "\n"


def invitation(settings: Settings, t: Told, now: datetime) -> bytes:
    """The iCalendar object (METHOD REQUEST or CANCEL) for the booking."""
    method = METHOD[t.kind]
    cal = Calendar()
    cal.add("prodid", "-//roombook//mail//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    ev = Event()
    ev.add("uid", f"booking-{t.booking_id}@roombook")
    # A cancel comes after the version it cancels (RFC 5546 2.1.4).
    ev.add("sequence", t.revision + (1 if method == "CANCEL" else 0))
    ev.add("dtstamp", now)
    ev.add("dtstart", local_start(settings, t.day, t.start_slot))
    ev.add("dtend", local_start(settings, t.day, t.end_slot))
    ev.add("summary", f"{t.title or 'Booking'} ({t.room})")
    ev.add("location", t.room)
    ev.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{settings.mail_from}")
    organizer.params["cn"] = "roombook"
    ev.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{t.to_email}")
    attendee.params["cn"] = t.to_name
    attendee.params["partstat"] = "ACCEPTED"
    attendee.params["rsvp"] = "FALSE"
    ev.add("attendee", attendee)
    cal.add_component(ev)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def message(settings: Settings, t: Told, now: datetime) -> EmailMessage:
    """The whole mail; now: aware, its Date and the invitation's DTSTAMP."""
    msg = EmailMessage()
    msg["From"] = formataddr(("roombook", settings.mail_from))
    msg["To"] = formataddr((t.to_name, t.to_email))
    msg["Subject"] = subject(settings, t)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = t.message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    msg.set_content(body(settings, t))
    if t.kind in METHOD:
        msg.add_alternative(invitation(settings, t, now).decode(), subtype="calendar",
                            params={"method": METHOD[t.kind]})
    return msg


def reset_message(settings: Settings, *, name: str, to: str, link: str, message_id: str,
                  now: datetime, locale: str = DEFAULT_LOCALE) -> EmailMessage:
    """A password reset's link (it works once, for an hour)."""
    _ = translations(locale).gettext
    msg = EmailMessage()
    msg["From"] = formataddr(("roombook", settings.mail_from))
    msg["To"] = formataddr((name, to))
    msg["Subject"] = _("Your roombook password")
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    lines = [_("Hello %(name)s,") % {"name": name}, "",
             _("someone, you we hope, asked to set a new password for your roombook account. "
               "This link lets you do it once, within an hour:"), "", f"  {link}", "",
             _("If it was not you, ignore this mail: your password stays as it is."),
             *signature(_)]
    msg.set_content("\n".join(lines) + "\n")
    return msg
