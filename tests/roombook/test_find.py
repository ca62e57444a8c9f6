"""Finding a room: the pure rules (fit, rank, other times), the page, the
grid's filter and the API."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from roombook.find import BadNeed, Need, fits, free_now, need_of, other_times, ranked, words

from tests.roombook.conftest import token_for
from tests.roombook.test_web import DAY, book_form, csrf, signed_in


@dataclass(frozen=True)
class R:
    id: int
    name: str
    capacity: int
    equipment: str = ""


ADA, BABBAGE = R(1, "Ada", 4, "screen"), R(2, "Babbage", 8, "screen, whiteboard")
CURIE, DARWIN = R(3, "Curie", 12, "projector, video conference"), R(4, "Darwin", 20,
                                                                      "Projector, microphones")
ROOMS = [DARWIN, CURIE, BABBAGE, ADA]


def test_equipment_words_are_split_lowered_and_each_once() -> None:
    assert words(" Projector,whiteboard  projector;screen ") == ("projector", "whiteboard",
                                                                  "screen")


@pytest.mark.parametrize(("people", "equipment", "message"), [
    ("many", "", "people: a whole number"), ("0", "", "people: between 1"),
    ("10001", "", "people: between 1"), ("2", "x" * 41, "equipment: at most"),
    ("2", " ".join(f"w{i}" for i in range(11)), "equipment: at most"),
])
def test_a_need_that_cannot_be_looked_for_names_its_field(people: str, equipment: str,
                                                         message: str) -> None:
    with pytest.raises(BadNeed, match=message):
        need_of(people, equipment)


def test_the_closest_fit_comes_first() -> None:
    """Three people: the 4-seat room before the 8 and the 20; with a
    projector, Curie (12) before Darwin (20); case does not matter."""
    assert ranked(ROOMS, Need(3)) == [ADA, BABBAGE, CURIE, DARWIN]
    assert ranked(ROOMS, Need(3, ("projector",))) == [CURIE, DARWIN]
    assert ranked(ROOMS, Need(13, ("projector",))) == [DARWIN]
    assert ranked(ROOMS, Need(21)) == []


def test_with_equal_seats_the_room_with_less_unasked_equipment_first() -> None:
    plain, rich = R(5, "Zeta", 6, "screen"), R(6, "Alpha", 6, "screen, piano, bar")
    assert ranked([rich, plain], Need(6, ("screen",))) == [plain, rich]


def test_only_rooms_free_for_the_whole_time() -> None:
    held = {ADA.id: {4}, BABBAGE.id: {9}}  # Ada taken in the middle, Babbage after
    assert free_now(ROOMS, held, 2, 4, Need(2)) == [BABBAGE, CURIE, DARWIN]


def test_when_none_is_free_the_nearest_other_times_in_rooms_that_fit() -> None:
    held = {CURIE.id: {2, 3}, DARWIN.id: {0, 1, 2, 3, 4, 5}}
    later = other_times(ROOMS, held, 2, 2, 24, Need(10, ("projector",)))
    # As near either way, the earlier first; the better fit (Curie) before Darwin.
    assert later[:2] == [(CURIE, 0), (CURIE, 4)]
    assert all(r in (CURIE, DARWIN) for r, _ in later) and (DARWIN, 6) in later


@given(st.lists(st.builds(R, st.integers(1, 50), st.sampled_from(["A", "B", "C"]),
                          st.integers(1, 30), st.sampled_from(["", "screen", "screen, tv"])),
                unique_by=lambda r: r.id),
       st.integers(1, 30), st.sampled_from([(), ("screen",), ("tv",)]))
def test_every_ranked_room_fits_and_every_fitting_room_is_ranked(
        rooms: list[R], people: int, equipment: tuple[str, ...]) -> None:
    need = Need(people, equipment)
    out = ranked(rooms, need)
    assert sorted(r.id for r in out) == sorted(r.id for r in rooms if fits(r, need))
    seats = [r.capacity for r in out]
    assert seats == sorted(seats)


def test_the_page_finds_fitting_rooms_and_books_with_one_click(app: Flask) -> None:
    bob = signed_in(app, "bob@example.com")
    book_form(bob, room=3, start="10:00", end="11:00")  # Curie taken then
    alice = signed_in(app)
    page = alice.get(f"/find?date={DAY}&start=10:00&minutes=60&people=6"
                     "&equipment=projector&title=Plan").data.decode()
    assert re.findall(r"<strong>(\w+)</strong>", page) == ["Darwin"]  # Curie is taken
    form = page[page.index('action="/rooms/4/book"'):]
    key = re.search(r'name="key" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    r = alice.post("/rooms/4/book", data={"csrf_token": csrf(page.encode()), "key": key,
                                          "date": DAY, "start": "10:00", "end": "11:00",
                                          "title": "Plan"}, follow_redirects=True)
    assert r.status_code == 200 and "Booked: 10:00-11:00" in r.data.decode()
    again = alice.get(f"/find?date={DAY}&start=10:00&minutes=60&people=6"
                      "&equipment=projector").data.decode()
    assert "<strong>" not in again and "is free then" in again
    assert f'/rooms/3?date={DAY}&amp;start=11:00&amp;end=12:00' in again  # another time


def test_the_page_names_a_wrong_field(app: Flask) -> None:
    alice = signed_in(app)
    for query, words_ in (("people=lots", "people: a whole number"),
                          ("start=09:10", "start: "), ("minutes=45", "minutes: a multiple"),
                          ("minutes=" + "9" * 5000, "minutes: a multiple"),
                          ("start=19:00&minutes=120", "when rooms close")):
        r = alice.get(f"/find?date={DAY}&{query}")
        assert r.status_code == 400 and words_ in r.data.decode(), query


def test_the_day_grid_shows_seats_and_filters_by_fit(app: Flask) -> None:
    alice = signed_in(app)
    page = alice.get(f"/?date={DAY}").data.decode()
    assert '<span class="cap" title="20 people">20</span>' in page
    page = alice.get(f"/?date={DAY}&people=10&equipment=projector").data.decode()
    assert re.findall(r'rowhead">.*?">(\w+)</a></th>', page) == ["Curie", "Darwin"]
    assert "people=10" in page and "equipment=projector" in page  # kept by the day links
    assert "No room fits" in alice.get(f"/?date={DAY}&people=500").data.decode()


def test_the_api_lists_free_rooms_that_fit(client: FlaskClient) -> None:
    auth = {"Authorization": f"Bearer {token_for(client)}"}
    r = client.get(f"/api/rooms/free?date={DAY}&start=09:00&end=10:00&people=5", headers=auth)
    assert r.status_code == 200 and [x["name"] for x in r.json] == [  # type: ignore[union-attr]
        "Babbage", "Curie", "Darwin"]
    r = client.get(f"/api/rooms/free?date={DAY}&start=09:00&end=10:00&people=0", headers=auth)
    assert r.status_code == 400 and "people" in r.json["message"]  # type: ignore[index]
    r = client.get(f"/api/rooms/free?date={DAY}&start=9&end=10:00", headers=auth)
    assert r.status_code == 400 and "start" in r.json["message"]  # type: ignore[index]
