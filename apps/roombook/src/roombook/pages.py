"""What every HTML page shares: the sign-in guard, rendering with the user
and the settings, and the one way a day is written."""

from __future__ import annotations

from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, g, redirect, render_template, request, url_for

from roombook.app import state, utcnow
from roombook.models import User


def signed_in(admin: bool = False) -> Any:
    def wrap(view: Any) -> Any:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return redirect(url_for("web.login", next=request.path))
            if admin and not g.user.is_admin:
                abort(403)
            return view(*args, **kwargs)
        return inner
    return wrap


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, user=g.user, settings=state().settings, **context), status


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


def sign_out(user_id: int) -> None:
    """End every session and API token of the user made before now."""
    with state().maker.begin() as s:
        user = s.get(User, user_id)
        if user is not None:
            user.tokens_after = utcnow()


def longdate(d: date) -> str:
    """Every page says a day this one way: Thu 26 Nov 2026."""
    return f"{d:%a} {d.day} {d:%b %Y}"
