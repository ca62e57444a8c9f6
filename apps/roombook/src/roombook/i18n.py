"""Languages: English (the text as written) and French. The language is the
person's choice (the footer's selector, kept in a cookie), else the
browser's (Accept-Language), else English. Dates follow it (Babel's CLDR
data). The catalogue is `translations/fr/LC_MESSAGES/messages.po`, compiled
to the `.mo` beside it (pybabel: the commands are in roombook's README); a
test keeps them complete and in step. A signed-in person's language is also
kept with them (User.locale, at sign-in and at each choice): their mails are
sent in it (mail.py). What the domain says (a rule a booking breaks, a bad
time) is in the page's language too. The API stays in English: programs read
it."""

from __future__ import annotations

import logging
from datetime import date

from babel.dates import format_date
from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    has_request_context,
    redirect,
    request,
    url_for,
)
from flask_babel import Babel, get_locale, gettext
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from roombook.context import safe_next, state
from roombook.models import User

log = logging.getLogger("roombook.i18n")

LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT = "en"
COOKIE = "lang"
COOKIE_DAYS = 365

language = Blueprint("language", __name__)


def select_locale() -> str:
    if request.path.startswith("/api/"):
        return DEFAULT  # programs read it: one language, whatever a browser asks
    chosen = request.cookies.get(COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(tuple(LANGUAGES)) or DEFAULT


def current() -> str:
    """The request's language; English outside a request (a mail, a job)."""
    if not has_request_context():
        return DEFAULT
    return str(get_locale() or DEFAULT)


def longdate(d: date, locale: str | None = None) -> str:
    """Every page says a day this one way: Thu 26 Nov 2026, jeu. 26 nov. 2026."""
    return format_date(d, "EEE d MMM y", locale=locale or current())


def word(value: str) -> str:
    """A value the data holds in English (a status, a kind of slot), as the
    page's language says it; any other value as it is."""
    words = {
        "confirmed": gettext("confirmed"), "cancelled": gettext("cancelled"),
        "released": gettext("released"), "free": gettext("free"), "taken": gettext("taken"),
        "past": gettext("past"), "closed": gettext("closed"), "yours": gettext("yours"),
    }
    return words.get(value, value)


@language.post("/language")
def choose() -> Response:
    lang = request.form.get("lang", "")
    back = safe_next(request.form.get("next", "")) or url_for("web.rooms")
    response = redirect(back, 303)
    if lang in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=COOKIE_DAYS * 86400, httponly=True,
                            samesite="Lax", secure=state().settings.secure_cookies)
        if g.get("user") is not None:
            remember(g.user.id, g.user.locale, lang)
    return response  # type: ignore[return-value]


def remember(user_id: int, had: str | None, lang: str) -> None:
    """The person's language kept with them, for their mails, when it
    changed. A copy that cannot write (a replica, a moment in a failover)
    keeps it in the cookie alone; the next sign-in or choice writes it."""
    if had == lang:
        return
    try:
        with state().maker.begin() as s:
            s.execute(update(User).where(User.id == user_id).values(locale=lang))
    except SQLAlchemyError as exc:
        log.warning("the language of person %s not kept now: %s", user_id,
                    str(exc).splitlines()[0][:200])


def init(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(language)
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current)
    app.add_template_filter(word, "word")
