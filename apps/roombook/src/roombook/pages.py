"""What every HTML page shares: the sign-in guard, rendering with the user
and the settings, and the one way a day is written."""

from __future__ import annotations

from datetime import date
from functools import wraps
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for

from roombook.app import state


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


def longdate(d: date) -> str:
    """Every page says a day this one way: Thu 26 Nov 2026."""
    return f"{d:%a} {d.day} {d:%b %Y}"
