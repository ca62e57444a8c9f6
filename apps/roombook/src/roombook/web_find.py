"""Finding a room from the pages: "a room for N people, with this
equipment, from T for D minutes", any day; the rooms that fit and are free
then, the closest fit first, each booked with one click; when none is free,
the nearest other times in rooms that fit."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, flash, g, request

from roombook import find, grid
from roombook.availability import blocked
from roombook.context import state
from roombook.models import TITLE_MAX, room_list
from roombook.pages import page, signed_in
from roombook.slots import BadTime, day_times, parse_day

finder = Blueprint("finder", __name__)
LENGTHS_MIN = (30, 60, 90, 120, 180, 240, 480)


def _lengths() -> list[int]:
    st = state().settings
    return [m for m in LENGTHS_MIN if m % st.slot_minutes == 0] or [st.slot_minutes]


def _ask() -> tuple[date, int, int, find.Need, str]:
    """The question asked (day, first slot, slots, need, title); BadTime or
    BadNeed say which field is wrong."""
    st = state().settings
    now = datetime.now(UTC)
    a = request.args
    day = parse_day(a.get("date"), st, now)
    times = day_times(st)
    start_text = a.get("start") or times[min(grid.first_open(st, day, now),
                                             st.slots_per_day - 1)]
    if start_text not in times[:-1]:
        raise BadTime(f"start: {start_text[:20]!r} is not a time of the grid, like {times[0]}")
    minutes_text = a.get("minutes") or "60"
    if (not minutes_text.isdigit() or len(minutes_text) > 4
            or int(minutes_text) % st.slot_minutes):
        raise BadTime(f"minutes: a multiple of {st.slot_minutes}")
    start, length = times.index(start_text), int(minutes_text) // st.slot_minutes
    if length < 1 or start + length > st.slots_per_day:
        raise BadTime(f"minutes: {start_text} plus {minutes_text} minutes ends after "
                      f"{times[-1]}, when rooms close")
    title = a.get("title", "").strip()[:TITLE_MAX]
    return day, start, length, find.need_of(a.get("people"), a.get("equipment")), title


@finder.get("/find")
@signed_in()
def find_room() -> Any:
    st = state().settings
    times = day_times(st)
    try:
        day, start, length, need, title = _ask()
    except (BadTime, find.BadNeed) as exc:
        flash(str(exc), "error")
        return page("find.html", 400, times=times, lengths=_lengths(), ask=request.args,
                    results=None)
    with state().maker() as s:
        rooms = list(s.scalars(room_list()))
        held = blocked(s, state().maker, st, rooms, day, g.user.id)
    first = grid.first_open(st, day, datetime.now(UTC))
    free = find.free_now(rooms, held, start, length, need) if start >= first else []
    later = [] if free else find.other_times(rooms, held, start, length, st.slots_per_day,
                                             need, first)
    ask = {"date": day.isoformat(), "start": times[start], "minutes": str(length *
           st.slot_minutes), "people": str(need.people), "equipment": " ".join(need.equipment),
           "title": title}
    return page("find.html", times=times, lengths=_lengths(), ask=ask, day=day,
                end=times[start + length], past=start < first,
                results=[(r, secrets.token_urlsafe(16)) for r in free],
                later=[(r, times[s], times[s + length]) for r, s in later])
