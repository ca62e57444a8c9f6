"""The pages of recurring bookings: a series is first shown date by date
(which are free, which are taken), then booked whole or for its free dates;
a series is cancelled from a date on."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext

from roombook.booking import KeyReused, NotFound
from roombook.context import state, utcnow
from roombook.models import bookable
from roombook.pages import longdate, page, signed_in
from roombook.rules_db import RuleBroken, current, refused_dates
from roombook.series import SeriesConflict, book_series, cancel_series, dates, taken_days
from roombook.slots import BadTime, SlotRange

series_web = Blueprint("series", __name__)
def every_words() -> dict[str, str]:
    return {"daily": gettext("every day"), "weekdays": gettext("every weekday"),
            "weekly": gettext("every week"),
            "monthly": gettext("every month, same weekday and week")}


def _until(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadTime(f"until {text!r} is not a date like 2026-12-01") from None


def book_series_form(room_id: int, rng: SlotRange, form: dict[str, str], key: str,
                     who: int) -> Any:
    """The room form with a repeat: the dates first, then (confirm=all or
    free) the series itself, for `who` (the signed-in person, or whom they
    book for). BadTime goes back to the room page."""
    until = _until(form["until"])
    days = dates(rng.day, until, form["repeat"])
    confirm = request.form.get("confirm", "")
    st = state()
    status = 200
    beyond = bool(form.get("beyond"))
    refused = refused_dates(st.maker, st.settings, days, rng, room_id, beyond)
    if confirm in ("all", "free"):
        try:
            done = book_series(st.maker, user_id=who, room_id=room_id, rng=rng,
                               until=until, every=form["repeat"], title=form["title"], key=key,
                               skip_taken=confirm == "free", now=utcnow(), refused=refused,
                               per_week=None if beyond else current(st.maker,
                                                                    st.settings).per_week,
                               booked_by=g.user.id if who != g.user.id else None)
        except RuleBroken as exc:
            flash(gettext("Not booked: %(why)s.", why=exc), "error")
            status = 422
        except SeriesConflict as exc:
            flash(gettext("Taken meanwhile: %(days)s. Look again.",
                          days=", ".join(map(longdate, exc.taken))), "error")
            status = 409
        except KeyReused:
            flash(gettext("This form was already used for another series; please try again."),
                  "error")
            status = 422
        except NotFound:
            abort(404)
        else:
            skipped = gettext("; not booked, taken or closed: %(days)s",
                              days=", ".join(map(longdate, done.skipped))) if done.skipped else ""
            flash(gettext("Booked %(n)s dates, %(start)s-%(end)s %(every)s from %(first)s until "
                          "%(until)s%(skipped)s.", n=len(done.booked), start=form["start"],
                          end=form["end"], every=every_words()[form["repeat"]],
                          first=longdate(rng.day), until=longdate(until), skipped=skipped),
                  "ok")
            return redirect(url_for("web.bookings"))
    with st.maker() as s:
        room = bookable(s, room_id)
        if room is None:
            abort(404)
        busy = taken_days(s, room_id, days, rng)
    rows = [(d, gettext("closed: %(why)s", why=refused[d]) if d in refused
             else "taken" if d in busy else "free")
            for d in days]
    return page("series.html", status, room=room, rows=rows,
                n_free=sum(1 for _, then in rows if then == "free"), form=form, day=rng.day,
                until=until, key=key, every=every_words()[form["repeat"]])


@series_web.post("/series/<int(min=1, max=2147483647):series_id>/cancel")
@signed_in()
def cancel(series_id: int) -> Any:
    try:
        from_day = date.fromisoformat(request.form.get("from", ""))
        n = cancel_series(state().maker, series_id=series_id, user=g.user, from_day=from_day,
                          now=utcnow())
    except ValueError:
        abort(400)
    except NotFound:
        abort(404)
    flash(f"Cancelled {n} dates of the series, from {longdate(from_day)} on.", "ok")
    return redirect(url_for("web.bookings"))
