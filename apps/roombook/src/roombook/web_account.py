"""A person's own account: changing one's password. The current password
is asked first, through the sign-in throttle (a session left open on a
shared screen must not become a way to guess it); a change ends every other
session and API token of the person, this one kept.

Or resetting it, where the site sends mail: a link mailed through the
outbox (one per person per 5 minutes), signed, good for an hour and once
(it names a fingerprint of the password it replaces); the page says the
same whether the address has an account or not."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext
from sqlalchemy import select

from roombook import auth, outbox, throttle
from roombook.context import state, utcnow
from roombook.models import EMAIL_MAX, User
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
        flash(gettext("Too many wrong passwords: try again in %(s)s s.",
                      s=f"{tried.wait_s:.0f}"), "error")
        return page("account.html", 429)
    if tried.unavailable:
        flash(gettext("Passwords cannot be changed on this copy of the service just now; "
                      "nothing was changed. Try again in a moment."), "error")
        return page("account.html", 503)
    if tried.user is None or tried.user.id != g.user.id:
        flash(gettext("The current password is wrong; nothing was changed."), "error")
        return page("account.html", 401)
    with state().maker.begin() as s:
        user = s.get(User, g.user.id)
        if user is not None:
            user.password_hash = auth.hash_password(new)
    sign_out(g.user.id)  # every other session and token ends...
    session["at"] = int(time.time())  # ...this one is made again, in the same second
    flash(gettext("Password changed. Your other sessions and API tokens have ended."), "ok")
    return redirect(url_for("account.show"))


def _resets_on() -> None:
    settings = state().settings
    if not (settings.mail and settings.site_url):
        abort(404)


@account.get("/forgot")
def forgot() -> Any:
    _resets_on()
    return page("forgot.html")


@account.post("/forgot")
def ask_reset() -> Any:
    _resets_on()
    address = request.form.get("email", "").strip().lower()[:EMAIL_MAX]
    if auth.valid_email(address):
        with state().maker.begin() as s:
            user = s.scalar(select(User).where(User.email == address,
                                               User.disabled_at.is_(None)))
            if user is not None:
                outbox.queue_reset(s, user.id, utcnow())
    flash(gettext("If an account has that address, a link to set a new password is on its "
                  "way: it works once, within an hour."), "ok")
    return redirect(url_for("web.login"))


def _reset_for(token: str) -> tuple[User, str] | None:
    found = auth.read_reset(state().settings.secret_key, token)
    if found is None:
        return None
    with state().maker() as s:
        user = s.get(User, found[0])
    if user is None or user.disabled_at is not None or \
            not auth.reset_fits(user.password_hash, found[1]):
        return None
    return user, found[1]


@account.route("/reset/<string(maxlength=400):token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    _resets_on()
    found = _reset_for(token)
    if found is None:
        flash(gettext("That link has expired or was used already: ask for a new one."), "error")
        return redirect(url_for("account.forgot"))
    person, fingerprint = found
    if request.method == "GET":
        return page("reset.html", person=person)
    new, again = request.form.get("new", ""), request.form.get("again", "")
    problem = new_password_problem(new, again, "")
    if problem:
        flash(problem, "error")
        return page("reset.html", 400, person=person)
    with state().maker.begin() as s:
        user = s.get(User, person.id, with_for_update=True)
        if user is None or not auth.reset_fits(user.password_hash, fingerprint):
            flash(gettext("That link was used already: ask for a new one."), "error")
            return redirect(url_for("account.forgot"))
        user.password_hash = auth.hash_password(new)
        user.tokens_after = utcnow()  # every session and API token ends
    flash(gettext("Your new password is set: sign in with it."), "ok")
    return redirect(url_for("web.login"))
