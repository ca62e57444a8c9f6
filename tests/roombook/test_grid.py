"""The grids' and the conflict suggestions' pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

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
                                (date(2099, 1, 1), "monthly", f"at most {MAX_DATES} dates"),
                                (date(2099, 1, 1), "weekdays", f"at most {MAX_DATES} dates"),
                                (date(2027, 1, 1), "fortnightly", "repeat must be one of")):
        with pytest.raises(BadTime, match=words):
            dates(first, until, every)


def test_weekday_and_monthly_series() -> None:
    """Weekdays skip the weekend; monthly keeps the weekday and the week of
    the month (the second Tuesday), a fifth week meaning the last."""
    from roombook.series import dates

    assert dates(date(2027, 1, 1), date(2027, 1, 5), "weekdays") == [
        date(2027, 1, 1), date(2027, 1, 4), date(2027, 1, 5)]  # Friday, Monday, Tuesday
    assert len(dates(date(2027, 1, 1), date(2027, 2, 1), "weekdays")) == 22
    assert dates(date(2027, 1, 12), date(2027, 4, 30), "monthly") == [  # second Tuesdays
        date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9), date(2027, 4, 13)]
    assert dates(date(2027, 1, 29), date(2027, 5, 31), "monthly") == [  # last Fridays
        date(2027, 1, 29), date(2027, 2, 26), date(2027, 3, 26), date(2027, 4, 30),
        date(2027, 5, 28)]
    assert dates(date(2027, 12, 14), date(2028, 1, 31), "monthly") == [
        date(2027, 12, 14), date(2028, 1, 11)]  # over a new year


@given(st.dates(date(2027, 1, 1), date(2030, 12, 31)), st.integers(0, 1500),
       st.sampled_from(["daily", "weekdays", "weekly", "monthly"]))
def test_a_series_is_in_order_within_its_bounds_or_refused(first: date, days: int,
                                                           every: str) -> None:
    from roombook.series import MAX_DATES, dates
    from roombook.slots import BadTime

    until = first + timedelta(days=days)
    try:
        out = dates(first, until, every)
    except BadTime as exc:
        assert f"at most {MAX_DATES}" in str(exc) or "no weekday" in str(exc)
        return
    assert out[0] >= first and out == sorted(set(out)) and out[-1] <= until
    assert out[0] == first or every == "weekdays" and first.weekday() >= 5
    assert 1 <= len(out) <= MAX_DATES
    assert all(d.weekday() == first.weekday() for d in out) or every in ("daily", "weekdays")


def test_a_phone_sees_each_stretch_of_free_time_once_and_no_past() -> None:
    from roombook.grid import Cell, runs

    row = [Cell("past", 0, 1), Cell("past", 1, 1), Cell("free", 2, 1), Cell("free", 3, 1),
           Cell("mine", 4, 2, "A · me"), Cell("free", 6, 1), Cell("taken", 7, 1, "B · them"),
           Cell("free", 8, 1), Cell("free", 9, 1)]
    assert runs(row) == [Cell("free", 2, 2), Cell("mine", 4, 2, "A · me"), Cell("free", 6, 1),
                         Cell("taken", 7, 1, "B · them"), Cell("free", 8, 2)]
    assert runs([Cell("past", 0, 1)]) == []
