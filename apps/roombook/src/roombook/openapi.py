"""The JSON API, described (OpenAPI 3.1). The request bodies' schemas are
api_schema's models, the same that check them."""

from __future__ import annotations

from typing import Any

from roombook.api_schema import ID_MAX, schemas
from roombook.find import PEOPLE_MAX
from roombook.models import KEY_MAX

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "bad input", 401: "not signed in", 403: "only an administrator may",
             404: "not found", 409: "conflict",
             422: "idempotency key reused, or against the site's rules",
             429: "too many failed sign-ins: wait",
             503: "the database does not accept writes"}
    return {str(c): _json(ERROR, words[c]) for c in codes}


def document() -> dict[str, Any]:
    room_id = {"name": "room_id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}
    booking_id = {"name": "booking_id", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}
    series_id = {"name": "series_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}
    key = {"name": "Idempotency-Key", "in": "header", "required": True,
           "schema": {"type": "string", "minLength": 8, "maxLength": KEY_MAX}}
    dates = {"type": "array", "items": {"type": "string", "format": "date"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "roombook", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}}},
                "Room": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"},
                    "capacity": {"type": "integer"}, "equipment": {"type": "string"},
                    "photo_url": {"type": ["string", "null"]}}},
                "Booking": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "room_id": {"type": "integer"},
                    "date": {"type": "string", "format": "date"},
                    "start": {"type": "string"}, "end": {"type": "string"},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                    "title": {"type": "string"}, "status": {"type": "string"},
                    "replayed": {"type": "boolean"}, "checked_in": {"type": "boolean"},
                    "user_id": {"type": "integer"},
                    "booked_by": {"type": ["integer", "null"]}}},
                "Series": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "booked": dates, "skipped": dates,
                    "replayed": {"type": "boolean"}}},
                **schemas(),
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/login": {"post": {
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Login"}}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "token": {"type": "string"}}}, "a bearer token"),
                    **_errors(400, 401, 429, 503)}}},
            "/api/logout": {"post": {
                "description": "Ends every API token and web session of the caller.",
                "responses": {"200": _json({"type": "object"}, "signed out"),
                              **_errors(401)}}},
            "/api/rooms": {"get": {"responses": {
                "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Room"}},
                             "every room"), **_errors(401)}}},
            "/api/rooms/free": {"get": {
                "description": "The rooms that seat the people, have every piece of "
                               "equipment named and are free for the whole time, the "
                               "closest fit first.",
                "parameters": [
                    {"name": "date", "in": "query", "required": True,
                     "schema": {"type": "string", "format": "date"}},
                    {"name": "start", "in": "query", "required": True,
                     "schema": {"type": "string", "example": "09:00"}},
                    {"name": "end", "in": "query", "required": True,
                     "schema": {"type": "string", "example": "10:30"}},
                    {"name": "people", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": PEOPLE_MAX}},
                    {"name": "equipment", "in": "query", "required": False,
                     "schema": {"type": "string", "example": "projector, whiteboard"}}],
                "responses": {"200": _json({"type": "array", "items": {
                    "$ref": "#/components/schemas/Room"}}, "the rooms free then"),
                    **_errors(400, 401)}}},
            "/api/rooms/{room_id}": {"get": {"parameters": [room_id], "responses": {
                "200": _json({"$ref": "#/components/schemas/Room"}, "a room"),
                **_errors(401, 404)}}},
            "/api/rooms/{room_id}/availability": {"get": {
                "parameters": [room_id, {"name": "date", "in": "query", "required": False,
                                         "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object"}, "free and taken slots"),
                              **_errors(400, 401, 404)}}},
            "/api/bookings": {
                "get": {"responses": {"200": _json({"type": "array", "items": {
                    "$ref": "#/components/schemas/Booking"}}, "my bookings"), **_errors(401)}},
                "post": {
                    "parameters": [key],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewBooking"}}}},
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/Booking"}, "booked"),
                        "200": _json({"$ref": "#/components/schemas/Booking"},
                                     "a retry: the booking this key already made"),
                        **_errors(400, 401, 403, 404, 409, 422, 503)}}},
            "/api/bookings/{booking_id}": {
                "get": {"parameters": [booking_id], "responses": {
                    "200": _json({"$ref": "#/components/schemas/Booking"}, "a booking"),
                    **_errors(401, 404)}},
                "patch": {"parameters": [booking_id],
                          "requestBody": {"required": True, "content": {"application/json": {
                              "schema": {"$ref": "#/components/schemas/BookingChange"}}}},
                          "responses": {
                              "200": _json({"$ref": "#/components/schemas/Booking"},
                                           "moved or retitled"),
                              **_errors(400, 401, 403, 404, 409, 422, 503)}},
                "delete": {"parameters": [booking_id], "responses": {
                    "200": _json({"$ref": "#/components/schemas/Booking"}, "cancelled"),
                    **_errors(401, 404, 503)}}},
            "/api/bookings/{booking_id}/checkin": {"post": {
                "description": "Say one came, where the site asks for check-in: from 15 "
                               "minutes before the start until the site's minutes after "
                               "(later, the booking is released).",
                "parameters": [booking_id], "responses": {
                    "200": _json({"$ref": "#/components/schemas/Booking"}, "checked in"),
                    **_errors(401, 404, 409, 503)}}},
            "/api/series": {"post": {
                "description": "A recurring booking, in one transaction: every date "
                               "(on_conflict none) or every free one (skip); with preview, "
                               "only which dates are free (no key needed).",
                "parameters": [{**key, "required": False}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/NewSeries"}}}},
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Series"}, "booked"),
                    "200": _json({"type": "object"}, "a retry, or a preview's dates"),
                    **_errors(400, 401, 403, 404, 409, 422, 503)}}},
            "/api/series/{series_id}": {"delete": {
                "parameters": [series_id, {"name": "from", "in": "query", "required": False,
                                           "schema": {"type": "string", "format": "date"}}],
                "responses": {"200": _json({"type": "object", "properties": {
                    "cancelled": {"type": "integer"}}}, "how many dates were cancelled"),
                    **_errors(400, 401, 404, 503)}}},
        },
    }
