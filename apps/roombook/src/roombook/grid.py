"""What the day and week grids show, and what a conflict suggests: pure
functions over the slots a room holds, no database, no Flask.

A row is one room on one day. Each free slot is a cell of its own (a link to
book it); the consecutive slots of one booking make one cell, so its title
can be read."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext

from roombook.config import Settings
from roombook.slots import local_start, time_of


@dataclass(frozen=True)
class Holder:
    """The booking that holds a slot, as a signed-in person may see it."""

    booking_id: int
    title: str
    who: str
    mine: bool


@dataclass(frozen=True)
class Cell:
    kind: str  # "free", "past" (free but gone), "closed" (the rules), "taken" or "mine"
    start: int  # its first slot
    span: int  # how many slots it covers
    label: str = ""  # a booking's title and who made it

    @property
    def end(self) -> int:
        return self.start + self.span


def runs(cells: list[Cell]) -> list[Cell]:
    """The same row with each stretch of free slots made one cell, and the
    past left out: what a phone shows, a line per stretch (a cell a slot
    was 10 px wide on a 360 px screen)."""
    out: list[Cell] = []
    for c in cells:
        if c.kind in ("past", "closed"):
            continue
        if c.kind == "free" and out and out[-1].kind == "free" and out[-1].end == c.start:
            out[-1] = Cell("free", out[-1].start, out[-1].span + c.span)
        else:
            out.append(c)
    return out


def row(held: Mapping[int, Holder], n_slots: int, first_open: int = 0,
        closed: Collection[int] = ()) -> list[Cell]:
    """The cells of one room's day; slots before ``first_open`` are past,
    free ones the site's rules close (opening hours, closed days) closed."""
    cells: list[Cell] = []
    i = 0
    while i < n_slots:
        h = held.get(i)
        if h is None:
            kind = "past" if i < first_open else "closed" if i in closed else "free"
            cells.append(Cell(kind, i, 1))
            i += 1
            continue
        j = i
        while j < n_slots and held.get(j) == h:
            j += 1
        title = h.title or gettext("Booked")
        label = f"{title} · {h.who}"
        cells.append(Cell("mine" if h.mine else "taken", i, j - i, label))
        i = j
    return cells


def first_open(settings: Settings, day: date, now: datetime) -> int:
    """The first slot of ``day`` that has not started yet (0 on a future day,
    past the last slot on a past day)."""
    n = settings.slots_per_day
    return next((i for i in range(n) if local_start(settings, day, i) >= now), n)


def hours(settings: Settings) -> list[tuple[str, int, int]]:
    """The header of a grid: (hour label, first slot, slots it spans)."""
    out: list[tuple[str, int, int]] = []
    for i in range(settings.slots_per_day):
        t = time_of(settings, i)
        if i == 0 or t.minute == 0:
            out.append((f"{t:%H}", i, 1))
        else:
            label, first, span = out[-1]
            out[-1] = (label, first, span + 1)
    return out


def free_for(held: Collection[int], start: int, length: int) -> bool:
    return all(s not in held for s in range(start, start + length))


def nearest_free(held: Collection[int], start: int, length: int, n_slots: int,
                 first: int = 0, count: int = 3) -> list[int]:
    """Starts of the nearest free ranges of the same length in the same room
    (the asked start excluded), nearest first, the earlier on a tie."""
    starts = [s for s in range(first, n_slots - length + 1)
              if s != start and free_for(held, s, length)]
    return sorted(starts, key=lambda s: (abs(s - start), s))[:count]
