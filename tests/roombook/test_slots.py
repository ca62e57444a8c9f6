from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from roombook.config import Settings
from roombook.slots import BadTime, parse_range, slot_of, time_of

S = Settings(secret_key="x" * 32)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_range_becomes_slots() -> None:
    r = parse_range(S, "2026-12-01", "09:00", "10:30", NOW)
    assert (r.day, r.start, r.end) == (date(2026, 12, 1), 2, 5)
    assert list(r.slots) == [2, 3, 4]


@pytest.mark.parametrize(("day", "start", "end", "words"), [
    ("2026-13-01", "09:00", "10:00", "not a date"),
    ("tomorrow", "09:00", "10:00", "not a date"),
    ("2026-12-01", "9h", "10:00", "not a time"),
    ("2026-12-01", "09:15", "10:00", "30-minute boundary"),
    ("2026-12-01", "10:00", "10:00", "not after"),
    ("2026-12-01", "11:00", "10:00", "not after"),
    ("2026-12-01", "07:00", "08:30", "from 08:00"),
    ("2026-12-01", "19:00", "21:00", "to 20:00"),
    ("2026-11-25", "08:00", "09:00", "in the past"),
    ("2028-01-01", "09:00", "10:00", "a year ahead"),
    ("2026-12-01", "09:00:30", "10:00", "boundary"),
])
def test_bad_ranges_say_why(day: str, start: str, end: str, words: str) -> None:
    with pytest.raises(BadTime, match=words):
        parse_range(S, day, start, end, NOW)


def test_time_zone_is_the_sites() -> None:
    # 12:00 UTC is 13:00 in Paris: 12:30 local today is already past.
    with pytest.raises(BadTime, match="in the past"):
        parse_range(S, "2026-11-25", "12:30", "13:00", NOW)
    assert parse_range(S, "2026-11-25", "13:00", "13:30", NOW).start == 10


@given(st.integers(min_value=0, max_value=S.slots_per_day))
def test_slots_and_times_round_trip(slot: int) -> None:
    assert slot_of(S, time_of(S, slot)) == slot


@given(st.integers(0, S.slots_per_day - 1), st.integers(1, S.slots_per_day))
def test_any_valid_range_parses_to_its_slots(a: int, length: int) -> None:
    b = min(a + length, S.slots_per_day)
    r = parse_range(S, "2026-12-01", f"{time_of(S, a):%H:%M}", f"{time_of(S, b):%H:%M}", NOW)
    assert (r.start, r.end) == (a, b) and r.end > r.start
    assert time_of(S, r.end) <= time(20, 0)


def test_a_day_far_off_is_out_of_range_not_a_crash() -> None:
    from roombook.slots import FIRST_DAY, LAST_DAY, parse_day

    st, now = Settings(database_url="sqlite://", secret_key="s" * 32), datetime.now(UTC)
    assert parse_day(LAST_DAY.isoformat(), st, now) == LAST_DAY
    assert parse_day(FIRST_DAY.isoformat(), st, now) == FIRST_DAY
    for far in ("0001-01-01", "9999-12-31", "1899-12-31"):
        with pytest.raises(BadTime, match="out of range"):
            parse_day(far, st, now)
