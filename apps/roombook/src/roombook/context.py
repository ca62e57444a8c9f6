"""What every blueprint shares with the application: the app's State (its
settings, engine and sessions), the clock as stored, the error answer
in the form the caller asked for (JSON for the API, a page otherwise), and
where a form may send a person next.
Blueprints import these from here, and app.py imports the blueprints: no
import runs the other way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Response, current_app, g, jsonify, render_template, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from roombook.config import Settings


@dataclass(frozen=True)
class State:
    settings: Settings
    engine: Engine
    maker: sessionmaker[Session]


def state() -> State:
    st: State = current_app.extensions["roombook"]
    return st


def utcnow() -> datetime:
    """Naive UTC, as stored."""
    return datetime.now(UTC).replace(tzinfo=None)


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error(status: int, code: str, message: str) -> tuple[Response, int] | tuple[str, int]:
    if wants_json():
        return jsonify(error=code, message=message), status
    return render_template("error.html", status=status, message=message,
                           user=getattr(g, "user", None)), status


def safe_next(target: str) -> str | None:
    """Where to go after signing in: a path of this site only. Anything a
    browser could read as another host (//x, a backslash, a tab or a space
    that browsers drop, a scheme) is refused."""
    if not target.startswith("/") or target.startswith("//"):
        return None
    if any(c.isspace() or c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None
