"""What every HTML page shares: the sign-in guard, rendering with the user
and the settings, and the one way a day is written."""

from __future__ import annotations

from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, g, redirect, render_template, request, url_for

from roombook.context import safe_next, state, utcnow
from roombook.i18n import longdate
from roombook.models import User

# A form sent after its session ended goes back, once signed in again, to
# the page it came from with what was typed in it (it landed on a 405 and
# the booking typed was lost): the form's endpoint -> the page's endpoint,
# and the fields that page takes from its address.
FORM_PAGES = {
    "web.book_room": ("web.room", ("date", "start", "end", "title")),
    "edits.edit_booking_post": ("edits.edit_booking", ("date", "start", "end", "room_id")),
}


def form_return() -> str:
    """Where a form that could not be taken goes back to: its own page with
    its values for a booking form, the page it was sent from otherwise."""
    if request.method == "POST" and request.endpoint in FORM_PAGES:
        target, fields = FORM_PAGES[request.endpoint]
        values = {k: request.form[k][:200] for k in fields if request.form.get(k)}
        return url_for(target, **(request.view_args or {}), **values)
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    back = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    same_site = referrer.netloc in ("", request.host)
    return (safe_next(back) if same_site else None) or url_for("web.rooms")


def signed_in(admin: bool = False) -> Any:
    def wrap(view: Any) -> Any:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if g.user is None:
                return redirect(url_for("web.login", next=form_return()))
            if admin and not g.user.is_admin:
                abort(403)
            return view(*args, **kwargs)
        return inner
    return wrap


def page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, user=g.user, settings=state().settings, **context), status


def sign_out(user_id: int) -> None:
    """End every session and API token of the user made before now."""
    with state().maker.begin() as s:
        user = s.get(User, user_id)
        if user is not None:
            user.tokens_after = utcnow()



__all__ = ["FORM_PAGES", "form_return", "longdate", "page", "sign_out", "signed_in"]
