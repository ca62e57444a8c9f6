"""The drills' booking space: the rooms of their own a run books, and the
days ahead it starts from, so that its load stays inside roombook's
one-year horizon; the drills' bookings cleared when the year is full.
The sizes are pure (rooms_needed, fits, rooms_sql)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from hapair.drill.target import DrillError, Lab, mariadb
from hapair.drill.workload import ROOMS, SLOTS_PER_DAY

# roombook takes bookings at most a year ahead; a run uses at most this many
# slots a second (each operation takes the next slot, a conflict too: 8
# clients on two cores send about 350 a second since a booking is 3 round
# trips; at 300 here a 41 s run passed the horizon, its refusals read as a
# 5.6 s pause). The drills book rooms of their own, as many as a run needs
# to stay inside the year (an apply drill books for 121 s: with the four
# sample rooms it passed the horizon, 945 refusals read as a 1.9 s pause),
# and leave the rooms people book untouched.
HORIZON_DAYS = 365
MAX_BOOKINGS_PER_S = 600
DRILL_ROOM = "Drill {:02d}"


def rooms_needed(seconds: float) -> int:
    """How many rooms a run of this length books, from tomorrow on, so as
    to stay inside the booking horizon (pure)."""
    per_room = SLOTS_PER_DAY * (HORIZON_DAYS - 2)
    return max(len(ROOMS), math.ceil(seconds * MAX_BOOKINGS_PER_S / per_room))


def fits(ahead: int, seconds: float, rooms: int = len(ROOMS)) -> bool:
    """Whether a run of this length over this many rooms, booking from
    ahead + 1 days on, stays inside the booking horizon (pure)."""
    needed = math.ceil(seconds * MAX_BOOKINGS_PER_S / (SLOTS_PER_DAY * rooms)) + 1
    return ahead + needed < HORIZON_DAYS


def rooms_sql(count: int) -> str:
    """The drills' rooms, Drill 01 to Drill NN: created where missing,
    opened again where an administrator removed one, their ids in name
    order (pure)."""
    names = ", ".join(f"'{DRILL_ROOM.format(n + 1)}'" for n in range(count))
    values = ", ".join(f"('{DRILL_ROOM.format(n + 1)}', 1, 'hapair drill', UTC_TIMESTAMP())"
                       for n in range(count))
    return ("INSERT IGNORE INTO rooms (name, capacity, equipment, created_at) "  # noqa: S608
            f"VALUES {values}; UPDATE rooms SET removed_at = NULL WHERE name IN ({names}); "
            f"SELECT id FROM rooms WHERE name IN ({names}) ORDER BY name")


# The drills' own bookings (their Idempotency-Keys are 32 hex digits) and only
# their slots, a booking and its slots in one transaction: a booking left
# without its slot rows (a test's, a person's) would no longer guard its
# slot, and the next drill could book it a second time. A few hundred at a
# time, each transaction short: a primary's lease gate judges each statement
# by its start, and one transaction over thousands of rows, on a starved
# host, outlived its lease and was refused (agent/node/write_gate.py). The count
# left is the last line.
CLEAR_CHUNK = 300
CLEAR_SQL = ("START TRANSACTION; "  # noqa: S608 - constants only
             "CREATE TEMPORARY TABLE drill_ids ENGINE=MEMORY SELECT id FROM bookings "
             f"WHERE CHAR_LENGTH(idempotency_key) = 32 LIMIT {CLEAR_CHUNK}; "
             "DELETE booked_slots FROM booked_slots JOIN drill_ids "
             "ON drill_ids.id = booked_slots.booking_id; "
             "DELETE bookings FROM bookings JOIN drill_ids ON drill_ids.id = bookings.id; "
             "COMMIT; DROP TEMPORARY TABLE drill_ids; "
             "SELECT COUNT(*) FROM bookings WHERE CHAR_LENGTH(idempotency_key) = 32")
CLEAR_PATIENCE_S = 120.0


def _until(lab: Lab, node: str, sql: str, done: Callable[[str], bool], what: str,
           timeout: float = 60) -> str:
    """sql on node again and again until done(its output), its output: a
    refusal (a lease that ran out a moment on a starved primary) is tried
    again half a second later, an answer not yet done (one more chunk) at
    once. DrillError, saying what, after CLEAR_PATIENCE_S."""
    deadline = time.monotonic() + CLEAR_PATIENCE_S
    while True:
        r = mariadb(lab, node, sql, timeout)
        if r.returncode == 0 and done(r.stdout):
            return r.stdout
        if time.monotonic() > deadline:
            raise DrillError(f"could not {what} on {node}: "
                             f"{(r.stderr or r.stdout).strip()[-300:]}")
        if r.returncode != 0:
            time.sleep(0.5)


def clear_bookings(lab: Lab, primary: str) -> None:
    """Every booking of the drills removed, chunk by chunk; a chunk refused
    (a lease that ran out a moment on a starved host) is tried again."""
    _until(lab, primary, CLEAR_SQL, lambda out: out.strip().splitlines()[-1:] == ["0"],
           "clear the drills' earlier bookings", timeout=120)


def booking_space(lab: Lab, primary: str, seconds: float) -> tuple[int, tuple[int, ...]]:
    """The drills' rooms for a run this long, and the days ahead from which
    none of them has a booking yet: each run books slots of its own. When
    the run could book past the horizon (its later bookings would be
    refused, and read as a pause), the drills' bookings are cleared first."""
    count = rooms_needed(seconds)
    made = _until(lab, primary, rooms_sql(count),
                  lambda out: len([w for w in out.split() if w.isdigit()]) == count,
                  "make the drills' rooms")
    rooms = tuple(int(w) for w in made.split() if w.isdigit())
    r = mariadb(lab, primary, "SELECT COALESCE(DATEDIFF(MAX(day), CURDATE()), 0) "  # noqa: S608
                f"FROM bookings WHERE room_id IN ({', '.join(map(str, rooms))})")
    ahead = int(r.stdout.strip() or 0) if r.returncode == 0 else 0
    if fits(ahead, seconds, count):
        return ahead + 1, rooms
    clear_bookings(lab, primary)
    return 1, rooms
