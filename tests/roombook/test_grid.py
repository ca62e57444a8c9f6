"""The grids' and the conflict suggestions' pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from roombook.config import Settings
from roombook.grid import Cell, Holder, first_open, free_for, hours, nearest_free, row

S = Settings(secret_key="x" * 32)  # 08:00-20:00 in 30-minute slots: 24 a day
REVIEW = Holder(7, "Review", "Alice", mine=True)
STANDUP = Holder(8, "", "Bob", mine=False)


def test_a_booking_is_one_cell_and_free_slots_one_each() -> None:
    held = {2: REVIEW, 3: REVIEW, 4: STANDUP}
    assert row(held, 6, first_open=1) == [
        Cell("past", 0, 1), Cell("free", 1, 1), Cell("mine", 2, 2, "Review · Alice"),
        Cell("taken", 4, 1, "Booked · Bob"), Cell("free", 5, 1)]


def test_two_bookings_side_by_side_stay_two_cells() -> None:
    other = Holder(9, "Review", "Alice", mine=True)  # same words, another booking
    assert [c.span for c in row({0: REVIEW, 1: other}, 2)] == [1, 1]


@given(st.dictionaries(st.integers(0, 23), st.sampled_from([REVIEW, STANDUP])),
       st.integers(0, 24))
def test_a_row_covers_every_slot_once(held: dict[int, Holder], first: int) -> None:
    cells = row(held, 24, first)
    assert [s for c in cells for s in range(c.start, c.end)] == list(range(24))
    assert all((c.kind in ("free", "past")) == (c.start not in held) for c in cells)


def test_the_header_spans_hours() -> None:
    h = hours(S)
    assert h[0] == ("08", 0, 2) and h[-1] == ("19", 22, 2) and len(h) == 12
    half = Settings(secret_key="x" * 32, day_start=time(8, 30), day_end=time(10, 0))
    assert hours(half) == [("08", 0, 1), ("09", 1, 2)]


def test_first_open_slot() -> None:
    day = date(2026, 12, 1)
    # 10:10 in Paris (09:10 UTC): the 10:00 slot has begun, 10:30 is next.
    assert first_open(S, day, datetime(2026, 12, 1, 9, 10, tzinfo=UTC)) == 5
    assert first_open(S, day, datetime(2026, 11, 30, 9, 0, tzinfo=UTC)) == 0
    assert first_open(S, day, datetime(2026, 12, 2, 9, 0, tzinfo=UTC)) == 24


def test_suggestions_are_the_nearest_free_ranges_of_the_same_length() -> None:
    held = {4, 5, 6, 10}
    # Asked: slots 4-5. Free starts by distance: 2 (2), then 1 and 7 (3: the earlier first).
    assert nearest_free(held, 4, 2, 24) == [2, 1, 7]
    assert nearest_free(held, 4, 2, 24, first=3) == [7, 8, 11]
    assert nearest_free(set(range(24)), 4, 2, 24) == []
    assert free_for(held, 7, 3) and not free_for(held, 8, 3)


def test_the_dates_of_a_series() -> None:
    from roombook.series import MAX_DATES, dates
    from roombook.slots import BadTime

    first = date(2026, 12, 3)
    assert dates(first, date(2026, 12, 24), "weekly") == [
        date(2026, 12, 3), date(2026, 12, 10), date(2026, 12, 17), date(2026, 12, 24)]
    assert dates(first, date(2026, 12, 9), "weekly") == [first]
    assert len(dates(first, date(2026, 12, 9), "daily")) == 7
    for until, every, words in ((date(2026, 12, 2), "daily", "before the first date"),
                                (date(2099, 1, 1), "daily", f"at most {MAX_DATES} dates"),
                                (date(2027, 1, 1), "monthly", "repeat must be one of")):
        with pytest.raises(BadTime, match=words):
            dates(first, until, every)


def test_a_phone_sees_each_stretch_of_free_time_once_and_no_past() -> None:
    from roombook.grid import Cell, runs

    row = [Cell("past", 0, 1), Cell("past", 1, 1), Cell("free", 2, 1), Cell("free", 3, 1),
           Cell("mine", 4, 2, "A · me"), Cell("free", 6, 1), Cell("taken", 7, 1, "B · them"),
           Cell("free", 8, 1), Cell("free", 9, 1)]
    assert runs(row) == [Cell("free", 2, 2), Cell("mine", 4, 2, "A · me"), Cell("free", 6, 1),
                         Cell("taken", 7, 1, "B · them"), Cell("free", 8, 2)]
    assert runs([Cell("past", 0, 1)]) == []
