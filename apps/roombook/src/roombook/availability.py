"""Which slots of a day cannot be booked, per room: those held by a
booking, and those the site's rules close (opening hours, closed days).
What the finder, the conflict suggestions and the API's free rooms share."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session, sessionmaker

from roombook import rules
from roombook.config import Settings
from roombook.models import Room
from roombook.occupancy import holders
from roombook.rules_db import current


def blocked(s: Session, maker: sessionmaker[Session], settings: Settings, rooms: list[Room],
            day: date, me: int, keep: int | None = None) -> dict[int, set[int]]:
    """room id -> the slots of that day it cannot be booked in; keep: a
    booking being moved, whose own slots count as free."""
    found = current(maker, settings)
    held = holders(s, day, day, me, due=rules.due_cut(found, settings, datetime.now(UTC)))
    return {r.id: {n for n, h in held.get((r.id, day), {}).items() if h.booking_id != keep}
            | rules.closed_slots(found, day, r.id, found.closed, settings) for r in rooms}
