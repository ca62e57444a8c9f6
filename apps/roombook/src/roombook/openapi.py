"""The JSON API, described (OpenAPI 3.0)."""

from __future__ import annotations

from typing import Any

from roombook.models import KEY_MAX, TITLE_MAX

ERROR = {"$ref": "#/components/schemas/Error"}


# What a new booking sends, and what an edit may change.
BOOKING_FIELDS: dict[str, Any] = {
    "room_id": {"type": "integer"},
    "date": {"type": "string", "example": "2026-12-01"},
    "start": {"type": "string", "example": "09:00"},
    "end": {"type": "string", "example": "10:30"},
    "title": {"type": "string", "maxLength": TITLE_MAX},
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "bad input", 401: "not signed in", 404: "not found", 409: "conflict",
             422: "idempotency key reused", 503: "the database does not accept writes"}
    return {str(c): _json(ERROR, words[c]) for c in codes}


def document() -> dict[str, Any]:
    room_id = {"name": "room_id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
    booking_id = {"name": "booking_id", "in": "path", "required": True,
                  "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "roombook", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}}},
                "Room": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"},
                    "capacity": {"type": "integer"}, "equipment": {"type": "string"},
                    "photo_url": {"type": "string", "nullable": True}}},
                "Booking": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "room_id": {"type": "integer"},
                    "date": {"type": "string", "format": "date"},
                    "start": {"type": "string"}, "end": {"type": "string"},
                    "starts_at": {"type": "string", "format": "date-time"},
                    "ends_at": {"type": "string", "format": "date-time"},
                    "title": {"type": "string"}, "status": {"type": "string"},
                    "replayed": {"type": "boolean"}}},
                "NewBooking": {"type": "object", "required": ["room_id", "date", "start", "end"],
                               "additionalProperties": False, "properties": BOOKING_FIELDS},
                "BookingChange": {"type": "object", "minProperties": 1,
                                  "additionalProperties": False, "properties": BOOKING_FIELDS},
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/login": {"post": {
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["email", "password"], "properties": {
                        "email": {"type": "string"}, "password": {"type": "string"}}}}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "token": {"type": "string"}}}, "a bearer token"), **_errors(400, 401)}}},
            "/api/rooms": {"get": {"responses": {
                "200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Room"}},
                             "every room"), **_errors(401)}}},
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
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True,
                                    "schema": {"type": "string", "minLength": 8,
                                               "maxLength": KEY_MAX}}],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewBooking"}}}},
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/Booking"}, "booked"),
                        "200": _json({"$ref": "#/components/schemas/Booking"},
                                     "a retry: the booking this key already made"),
                        **_errors(400, 401, 404, 409, 422, 503)}}},
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
                              **_errors(400, 401, 404, 409, 503)}},
                "delete": {"parameters": [booking_id], "responses": {
                    "200": _json({"$ref": "#/components/schemas/Booking"}, "cancelled"),
                    **_errors(401, 404, 503)}}},
        },
    }
