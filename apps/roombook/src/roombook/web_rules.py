"""The administrators' page of booking rules: the longest booking, how far
ahead, bookings per person per week, opening hours per weekday, and closed
days (the whole site's, or one room's). Saved rules reach every process of
both nodes within rules_db.KEEP_S seconds; bookings already made stay."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext
from sqlalchemy import delete

from roombook import rules, rules_db
from roombook.context import state, utcnow
from roombook.models import NAME_MAX, ClosedDay, SiteRules, bookable, room_list
from roombook.pages import page, signed_in
from roombook.slots import day_times

rules_admin = Blueprint("rules_admin", __name__, url_prefix="/admin/rules")


@rules_admin.get("")
@signed_in(admin=True)
def show(status: int = 200) -> Any:
    st = state()
    found = rules_db.current(st.maker, st.settings)
    today = datetime.now(UTC).astimezone(st.settings.tz).date()
    with st.maker() as s:
        rooms = list(s.scalars(room_list()))
        closed = list(s.scalars(rules_db.closed_days_from(today)))
    names = {r.id: r.name for r in rooms}
    weekdays = (gettext("Mondays"), gettext("Tuesdays"), gettext("Wednesdays"),
                gettext("Thursdays"), gettext("Fridays"), gettext("Saturdays"),
                gettext("Sundays"))
    days = [(i, weekdays[i], found.hours.get(i, "open"), rules.DAYS[i]) for i in range(7)]
    return page("admin_rules.html", status, found=found, days=days, times=day_times(st.settings),
                rooms=rooms, closed=[(c, names.get(c.room_id or 0, "")) for c in closed],
                day_start=f"{st.settings.day_start:%H:%M}", day_end=f"{st.settings.day_end:%H:%M}")


def _hours(f: Any) -> str:
    """The opening hours from the form's seven rows, as rules.py keeps them."""
    st = state().settings
    parts = []
    for name in rules.DAYS:
        if f.get(f"{name}_closed"):
            parts.append(f"{name} closed")
            continue
        a, b = f.get(f"{name}_from", ""), f.get(f"{name}_to", "")
        if (a, b) != (f"{st.day_start:%H:%M}", f"{st.day_end:%H:%M}"):
            parts.append(f"{name} {a}-{b}")
    return ", ".join(parts)


@rules_admin.post("")
@signed_in(admin=True)
def save() -> Any:
    f = request.form
    st = state()
    try:
        values = {name: rules.limit(name, f.get(name, "")) for name in rules.LIMITS}
        hours = _hours(f)
        rules.parse_hours(hours, st.settings)  # checked before anything is written
    except rules.BadRule as exc:
        flash(str(exc), "error")
        return show(400)
    with st.maker.begin() as s:
        row = s.get(SiteRules, 1, with_for_update=True)
        if row is None:
            row = SiteRules(id=1, updated_at=utcnow())
            s.add(row)
        row.longest_minutes = values["longest_minutes"]
        row.ahead_days = values["ahead_days"]
        row.per_week = values["per_week"]
        if values["checkin_minutes"] is None:
            row.checkin_since = None
        elif row.checkin_minutes is None:  # turned on now: asks bookings made from now on
            row.checkin_since = utcnow()
        row.checkin_minutes = values["checkin_minutes"]
        row.hours, row.updated_at = hours, utcnow()
    rules_db.forget(st.maker)
    flash(gettext("Rules saved; they apply to bookings from now on (those made stay)."), "ok")
    return redirect(url_for("rules_admin.show")), 303


@rules_admin.post("/closed")
@signed_in(admin=True)
def add_closed() -> Any:
    f = request.form
    st = state()
    try:
        day = date.fromisoformat(f.get("day", ""))
    except ValueError:
        flash(gettext("day: a date like 2026-12-25"), "error")
        return show(400)
    name = f.get("name", "").strip()
    text = f.get("room_id", "")
    if text and not (text.isdigit() and len(text) < 10):
        flash(gettext("room: choose a room, or every room"), "error")
        return show(400)
    room_id = int(text) if text else None
    if len(name) > NAME_MAX:
        flash(gettext("name: at most %(n)s characters", n=NAME_MAX), "error")
        return show(400)
    with st.maker.begin() as s:
        if room_id is not None and bookable(s, room_id) is None:
            abort(404)
        s.add(ClosedDay(day=day, room_id=room_id, name=name))
    rules_db.forget(st.maker)
    flash(gettext("Closed on %(day)s. Bookings already made that day stay; cancel them from "
                  "the day's list if they must go.", day=f"{day}: {name}" if name else day),
          "ok")
    return redirect(url_for("rules_admin.show")), 303


@rules_admin.post("/closed/<int(min=1, max=2147483647):closed_id>/remove")
@signed_in(admin=True)
def remove_closed(closed_id: int) -> Any:
    with state().maker.begin() as s:
        s.execute(delete(ClosedDay).where(ClosedDay.id == closed_id))
    rules_db.forget(state().maker)
    flash(gettext("Open again that day."), "ok")
    return redirect(url_for("rules_admin.show")), 303
