"""Languages: English (the text as written) and French. The language is the
person's choice (the footer's selector, kept in a cookie), else the
browser's (Accept-Language), else English. Dates follow it (Babel's CLDR
data). The catalogue is `translations/fr/LC_MESSAGES/messages.po`, compiled
to the `.mo` beside it (pybabel: the commands are in roombook's README); a
test keeps them complete and in step. Mails and the API stay in English: they go to
people and programs whose language the service does not know."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from flask import Blueprint, Flask, Response, has_request_context, redirect, request, url_for
from flask_babel import Babel, get_locale, gettext

LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT = "en"
COOKIE = "lang"
COOKIE_DAYS = 365

language = Blueprint("language", __name__)


def select_locale() -> str:
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
    from roombook.app import state
    from roombook.pages import safe_next

    lang = request.form.get("lang", "")
    back = safe_next(request.form.get("next", "")) or url_for("web.rooms")
    response = redirect(back, 303)
    if lang in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=COOKIE_DAYS * 86400, httponly=True,
                            samesite="Lax", secure=state().settings.secure_cookies)
    return response  # type: ignore[return-value]


def init(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(language)
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current)
    app.add_template_filter(word, "word")
