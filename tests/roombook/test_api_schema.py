"""The API's request bodies, each field defined once (api_schema): the same
models check a body and describe it in the OpenAPI document."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from roombook.api_schema import BadRequest, BookingChange, NewBooking, NewSeries, read
from roombook.openapi import document
from roombook.series import EVERY

GOOD = {"room_id": 1, "date": "2026-12-01", "start": "09:00", "end": "10:00"}


@pytest.mark.parametrize(("body", "words"), [
    ({**GOOD, "colour": "red", "size": 3}, "unknown fields: colour, size"),
    ({**GOOD, "room_id": "1"}, "room_id must be a room's id"),
    ({**GOOD, "room_id": True}, "room_id must be a room's id"),
    ({**GOOD, "room_id": 2**31}, "room_id must be a room's id"),
    ({**GOOD, "title": 5}, "title must be text of at most 100"),
    ({**GOOD, "start": None}, "date, start and end are required"),
    ({"room_id": 1}, "date, start and end are required"),
    ({**GOOD, "for_user_id": 0}, "for_user_id must be a person's id"),
    ({**GOOD, "beyond_rules": "yes"}, "beyond_rules is true or false"),
])
def test_a_body_that_does_not_fit_is_one_line_naming_the_field(body: dict[str, Any],
                                                                words: str) -> None:
    with pytest.raises(BadRequest) as caught:
        read(NewBooking, body)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_a_series_repeats_as_the_series_module_can() -> None:
    assert get_args(NewSeries.model_fields["repeat"].annotation) == EVERY
    with pytest.raises(BadRequest, match="repeat must be one of daily, weekdays"):
        read(NewSeries, {**GOOD, "repeat": "fortnightly", "until": "2027-01-01"})
    sent = read(NewSeries, {**GOOD, "repeat": "weekly", "until": "2027-01-01"})
    assert (sent.on_conflict, sent.preview, sent.title) == ("none", False, "")


def test_the_document_describes_the_bodies_with_the_same_models() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    bodies = doc["components"]["schemas"]
    assert bodies["NewBooking"] == NewBooking.model_json_schema(
        ref_template="#/components/schemas/{model}")
    assert bodies["NewBooking"]["additionalProperties"] is False
    assert set(bodies["NewBooking"]["required"]) == {"room_id", "date", "start", "end"}
    assert bodies["BookingChange"]["minProperties"] == 1
    post = doc["paths"]["/api/bookings"]["post"]["requestBody"]
    assert post["content"]["application/json"]["schema"]["$ref"].endswith("/NewBooking")
    assert read(BookingChange, {"title": "x"}).title == "x"
