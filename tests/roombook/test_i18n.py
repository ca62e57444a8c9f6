"""Languages: every message of the pages in French as well as English, the
person's choice kept, else the browser's, dates in that language, and the
catalogue complete and compiled (a message added without French fails here)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from roombook.models import User
from sqlalchemy import select

from roombook import i18n
from tests.roombook.conftest import future_day, token_for
from tests.roombook.test_rules import book, set_rules
from tests.roombook.test_web import csrf, signed_in

APP = Path(__file__).resolve().parents[2] / "apps" / "roombook"
TRANSLATIONS = APP / "src" / "roombook" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def sources() -> set[str]:
    """Every message the sources mark, as pybabel extract finds them (babel.cfg)."""
    found = set()
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(APP / "src"), method_map):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_has_its_french_with_the_same_placeholders() -> None:
    with (TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f)
    french = {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}
    missing = sorted(sources() - set(french))
    assert not missing, f"no French for: {missing[:5]} (pybabel update, then translate)"
    for key, m in french.items():
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings) and "fuzzy" not in m.flags, f"untranslated or fuzzy: {key!r}"
        for s in strings:
            assert set(PLACEHOLDER.findall(s)) == set(PLACEHOLDER.findall(key)), key


def test_the_compiled_catalogue_is_the_one_written() -> None:
    base = TRANSLATIONS / "fr" / "LC_MESSAGES"
    def plain(x: object) -> object:
        return tuple(x) if isinstance(x, list | tuple) else x

    with (base / "messages.po").open("rb") as f:
        po = {plain(m.id): plain(m.string) for m in read_po(f) if m.id}
    with (base / "messages.mo").open("rb") as f:
        mo = {plain(m.id): plain(m.string) for m in read_mo(f) if m.id}
    assert po == mo, "messages.mo is older than messages.po: pybabel compile"


def test_the_browser_s_language_unless_the_person_chose_another(app: Flask) -> None:
    client = app.test_client()
    fr = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert b'<html lang="fr">' in fr.data and b"Se connecter" in fr.data
    en = client.get("/login", headers={"Accept-Language": "de,en;q=0.5"})
    assert b'<html lang="en">' in en.data and b"Sign in" in en.data
    chosen = client.post("/language", data={"csrf_token": csrf(fr.data), "lang": "en",
                                            "next": "/login"})
    assert chosen.status_code == 303 and chosen.headers["Location"].endswith("/login")
    cookie = chosen.headers["Set-Cookie"]
    assert "lang=en" in cookie and "HttpOnly" in cookie
    again = client.get("/login", headers={"Accept-Language": "fr"})
    assert b"Sign in" in again.data  # the choice beats the browser's


def test_a_signed_in_page_flashes_and_dates_in_french(app: Flask) -> None:
    alice = signed_in(app)
    alice.set_cookie(i18n.COOKIE, "fr")
    page = alice.get("/?date=2026-11-26").data.decode()
    assert "Salles" in page and "jeu. 26 nov. 2026" in page and "Mes réservations" in page
    assert i18n.longdate(date(2026, 11, 26), "en") == "Thu 26 Nov 2026"
    stranger = app.test_client()
    stranger.set_cookie(i18n.COOKIE, "fr")
    login = stranger.get("/login").data
    wrong = stranger.post("/login", data={"csrf_token": csrf(login),
                                          "email": "nobody@example.com", "password": "x" * 12})
    assert wrong.status_code == 401 and "E-mail inconnu ou mot de passe faux." in wrong.text


def test_a_language_the_site_does_not_have_is_ignored(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login").data
    r = client.post("/language", data={"csrf_token": csrf(page), "lang": "xx",
                                       "next": "//evil.example/"})
    assert r.status_code == 303 and "evil" not in r.headers["Location"]
    assert "lang=" not in r.headers.get("Set-Cookie", "")


def test_a_signed_in_person_s_choice_is_kept_with_them(app: Flask) -> None:
    """For their mails: the language they signed in with, then the one they
    chose in the footer."""
    alice = signed_in(app)
    st = app.extensions["roombook"]

    def kept() -> str | None:
        with st.maker() as s:
            return s.scalar(select(User.locale).where(User.email == "alice@example.com"))

    assert kept() == "en"
    page = alice.get("/").data
    r = alice.post("/language", data={"csrf_token": csrf(page), "lang": "fr", "next": "/"})
    assert r.status_code == 303 and kept() == "fr"


def test_what_the_rules_say_is_in_the_page_s_language_and_the_api_s_in_english(
        app: Flask) -> None:
    set_rules(app, sun_closed="on")
    day = date.fromisoformat(future_day(10))
    sunday = (day + timedelta(days=6 - day.weekday())).isoformat()
    alice = signed_in(app)
    alice.set_cookie(i18n.COOKIE, "fr")
    status, page = book(alice, sunday, "10:00", "11:00")
    assert status == 422 and "les salles sont fermées les dimanches" in page, page[-600:]
    status, page = book(alice, sunday, "11:00", "10:00")
    assert status == 400 and "la fin 10:00 n&#39;est pas après le début 11:00" in page, page[-600:]
    api = app.test_client()
    r = api.post("/api/bookings", json={"room_id": 1, "date": sunday, "start": "10:00",
                                        "end": "11:00"},
                 headers={"Authorization": f"Bearer {token_for(api, 'alice@example.com')}",
                          "Idempotency-Key": "k" * 32, "Accept-Language": "fr"})
    assert r.status_code == 422 and "rooms are closed on Sundays" in r.text, r.text
