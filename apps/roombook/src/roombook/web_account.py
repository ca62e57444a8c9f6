"""A person's own account: changing one's password. The current password
is asked first, through the sign-in throttle (a session left open on a
shared screen must not become a way to guess it); a change ends every other
session and API token of the person, this one kept."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, flash, g, redirect, request, session, url_for

from roombook import auth, throttle
from roombook.app import state, utcnow
from roombook.models import User
from roombook.pages import page, sign_out, signed_in

account = Blueprint("account", __name__)
PASSWORD_MIN, PASSWORD_MAX = 10, 1024


def new_password_problem(new: str, again: str, current: str) -> str | None:
    """What is wrong with a new password, in words (None: nothing)."""
    if not PASSWORD_MIN <= len(new) <= PASSWORD_MAX:
        return f"The new password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters."
    if new != again:
        return "The two new passwords differ; type the same one twice."
    if new == current:
        return "The new password is the current one."
    return None


@account.get("/account")
@signed_in()
def show() -> Any:
    return page("account.html")


@account.post("/account/password")
@signed_in()
def change_password() -> Any:
    f = request.form
    current, new, again = (f.get("current", "")[:PASSWORD_MAX], f.get("new", ""),
                           f.get("again", ""))
    problem = new_password_problem(new, again, current)
    if problem:
        flash(problem, "error")
        return page("account.html", 400)
    tried = throttle.attempt(state().maker, g.user.email, current, request, utcnow())
    if tried.wait_s:
        flash(f"Too many wrong passwords: try again in {tried.wait_s:.0f} s.", "error")
        return page("account.html", 429)
    if tried.unavailable:
        flash("Passwords cannot be changed on this copy of the service just now; nothing "
              "was changed. Try again in a moment.", "error")
        return page("account.html", 503)
    if tried.user is None or tried.user.id != g.user.id:
        flash("The current password is wrong; nothing was changed.", "error")
        return page("account.html", 401)
    with state().maker.begin() as s:
        user = s.get(User, g.user.id)
        if user is not None:
            user.password_hash = auth.hash_password(new)
    sign_out(g.user.id)  # every other session and token ends...
    session["at"] = int(time.time())  # ...this one is made again, in the same second
    flash("Password changed. Your other sessions and API tokens have ended.", "ok")
    return redirect(url_for("account.show"))
