"""What the API's requests send, each field defined once (pydantic): the
checks of a request's JSON body and the OpenAPI document's schemas both
come from these models. A body that does not fit is one line naming the
field (`problem`), in the words a caller can act on.

The types are strict: "1" is not a room's id, and 1 is not a title."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roombook.models import TITLE_MAX
from roombook.series import EVERY

ID_MAX = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=ID_MAX)]
Day = Annotated[str, Field(examples=["2026-12-01"])]
Time = Annotated[str, Field(examples=["09:00"])]
Title = Annotated[str, Field(max_length=TITLE_MAX)]

# The line a caller reads when a field is wrong, by field.
TIMES = "date, start and end are required, as text: 2026-12-01, 09:00, 10:30"
HINTS = {
    "room_id": "room_id must be a room's id (a positive whole number)",
    "title": f"title must be text of at most {TITLE_MAX} characters",
    "date": TIMES, "start": TIMES, "end": TIMES,
    "beyond_rules": "beyond_rules is true or false",
    "for_user_id": "for_user_id must be a person's id (a positive whole number)",
    "repeat": f"repeat must be one of {', '.join(EVERY)}",
    "until": "until is required, a date like 2026-12-01",
    "on_conflict": 'on_conflict is "none" or "skip"',
    "preview": "preview is true or false",
    "email": "email and password are required strings",
    "password": "email and password are required strings",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Login(_Body):
    model_config = ConfigDict(extra="ignore")

    email: str
    password: str


class NewBooking(_Body):
    room_id: Id
    date: Day
    start: Time
    end: Time
    title: Title = ""
    beyond_rules: bool = Field(False, description="an administrator books beyond the "
                                                  "site's rules")
    for_user_id: Id | None = Field(None, description="book on this person's behalf "
                                                     "(default: the caller)")


class BookingChange(_Body):
    """Any of: another room; another time (date, start and end together); a
    new title."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    room_id: Id | None = None
    date: Day | None = None
    start: Time | None = None
    end: Time | None = None
    title: Title | None = None
    beyond_rules: bool = Field(False, description="an administrator books beyond the "
                                                  "site's rules")


class NewSeries(NewBooking):
    repeat: Literal["daily", "weekdays", "weekly", "monthly"]
    until: Day
    on_conflict: Literal["none", "skip"] = "none"
    preview: bool = False


class BadRequest(ValueError):
    """A request that does not fit (its body, a header, a parameter), in one
    line: a 400."""


def problem(exc: ValidationError) -> str:
    """The one line a caller reads: the unknown fields named, else the first
    wrong field's hint (pure)."""
    errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return f"unknown fields: {', '.join(unknown)}"
    for e in errors:
        if e["loc"]:
            field = str(e["loc"][0])
            return HINTS.get(field, f"{field}: {e['msg']}")
    return str(errors[0]["msg"]) if errors else "the body does not fit"


M = TypeVar("M", bound=BaseModel)


def read(model: type[M], data: dict[str, Any]) -> M:
    """data checked against the model; BadRequest names what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(problem(exc)) from None


def schemas() -> dict[str, Any]:
    """The request bodies' JSON Schemas, for the OpenAPI document (3.1)."""
    return {m.__name__: m.model_json_schema(ref_template="#/components/schemas/{model}")
            for m in (Login, NewBooking, BookingChange, NewSeries)}
