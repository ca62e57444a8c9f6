"""Finding a room: which rooms fit a need (people, equipment) and are free
for a time, ranked by fit; pure functions, no database.

A room fits when it seats the people and has every piece of equipment asked
for (each word found in its equipment, case aside). The closest fit comes
first: the fewest empty seats, then the fewest things the meeting did not
ask for, then the name, so a 4-person meeting is not sent to the hall."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from roombook import grid

PEOPLE_MAX = 10_000
WORDS_MAX = 10  # pieces of equipment asked for at once
WORD_MAX = 40


class RoomLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def capacity(self) -> int: ...
    @property
    def equipment(self) -> str: ...


R = TypeVar("R", bound=RoomLike)


class BadNeed(ValueError):
    """A need that cannot be looked for; the message names the field."""


@dataclass(frozen=True)
class Need:
    people: int = 1
    equipment: tuple[str, ...] = ()


def words(text: str) -> tuple[str, ...]:
    """The equipment asked for: words split at commas and spaces, lower case,
    each once, in order."""
    out: list[str] = []
    for w in re.split(r"[,;\s]+", text.lower()):
        if w and w not in out:
            out.append(w)
    return tuple(out)


def need_of(people: str | None, equipment: str | None) -> Need:
    """A need from a form or a query; BadNeed names the field that is wrong."""
    n = 1
    if people not in (None, ""):
        try:
            n = int(str(people))
        except ValueError:
            raise BadNeed("people: a whole number of people, 1 or more") from None
        if not 1 <= n <= PEOPLE_MAX:
            raise BadNeed(f"people: between 1 and {PEOPLE_MAX}")
    wanted = words(equipment or "")
    if len(wanted) > WORDS_MAX or any(len(w) > WORD_MAX for w in wanted):
        raise BadNeed(f"equipment: at most {WORDS_MAX} words of at most {WORD_MAX} letters")
    return Need(n, wanted)


def fits(room: RoomLike, need: Need) -> bool:
    have = room.equipment.lower()
    return room.capacity >= need.people and all(w in have for w in need.equipment)


def _fit_key(room: RoomLike, need: Need) -> tuple[int, int, str]:
    extra = len([w for w in words(room.equipment) if not any(n in w for n in need.equipment)])
    return room.capacity - need.people, extra, room.name.lower()


def ranked(rooms: Sequence[R], need: Need) -> list[R]:
    """The rooms that fit, the closest fit first."""
    return sorted((r for r in rooms if fits(r, need)), key=lambda r: _fit_key(r, need))


def free_now(rooms: Sequence[R], held: Mapping[int, Collection[int]], start: int, length: int,
             need: Need) -> list[R]:
    """The rooms that fit and are free for [start, start + length), best first."""
    return [r for r in ranked(rooms, need) if grid.free_for(held.get(r.id, ()), start, length)]


def other_times(rooms: Sequence[R], held: Mapping[int, Collection[int]], start: int,
                length: int, n_slots: int, need: Need, first: int = 0,
                count: int = 5) -> list[tuple[R, int]]:
    """When nothing fitting is free then: the nearest other starts in rooms
    that fit (nearest in time first, then the better fit), at most count."""
    rooms_fit = ranked(rooms, need)
    rank = {r.id: i for i, r in enumerate(rooms_fit)}
    found = [(r, s) for r in rooms_fit
             for s in grid.nearest_free(held.get(r.id, ()), start, length, n_slots, first, count)]
    return sorted(found, key=lambda rs: (abs(rs[1] - start), rank[rs[0].id], rs[1]))[:count]
