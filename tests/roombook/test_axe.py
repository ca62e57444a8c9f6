"""axe-core (WCAG 2.2 A and AA rules) on every page state a person meets,
on a desktop screen and on a 360 px phone: no critical and no serious
violation. Each state is reached as a person would (sign in, book, meet a
conflict, cancel...), not by rendering templates alone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.roombook.conftest import future_day
from tests.roombook.test_browser import _fill_booking, _signed_in

pytestmark = pytest.mark.tools
WCAG22 = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                 "wcag22aa"]},
          "resultTypes": ["violations"]}
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 740}}


def _check(page: Any, state: str, found: dict[str, list[str]], seen: list[str]) -> None:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, options=WCAG22).response
    bad = [f"{v['id']} ({v['impact']}): " + ", ".join(str(n["target"]) for n in v["nodes"][:3])
           for v in result["violations"] if v["impact"] in ("critical", "serious")]
    if bad:
        found[state] = bad
    seen.append(state)


def _states(page: Any, served: str, day: str, check: Any) -> None:
    """Every page state of a person, then an administrator's."""
    page.goto(f"{served}/?date={day}")
    check("day grid")
    page.goto(f"{served}/?date={day}&people=10&equipment=projector")
    check("day grid, filtered")
    _fill_booking(page, served, 2, day, "10:00", "11:00", "Axe review")
    check("booking form")
    page.click("#book button[type=submit]")
    check("my bookings, just booked")
    _fill_booking(page, served, 2, day, "10:30", "11:30", "Clash")
    page.click("#book button[type=submit]")
    check("conflict with suggestions")
    page.goto(f"{served}/rooms/2/week?date={day}")
    check("week")
    page.goto(f"{served}/find?date={day}&start=10:00&minutes=60&people=6")
    check("find, rooms free")
    page.goto(f"{served}/find?date={day}&start=10:00&minutes=60&people=20&equipment=piano")
    check("find, nothing fits")
    page.goto(f"{served}/bookings")
    edit = page.get_by_role("link", name="Edit").first.get_attribute("href")
    page.goto(f"{served}{edit}")
    check("edit a booking")
    booking = re.search(r"/bookings/(\d+)/", edit or "")
    assert booking, edit
    page.goto(f"{served}/bookings/{booking.group(1)}/cancel")
    check("cancel, asked first")
    page.get_by_role("button", name="Cancel the booking").click()
    check("cancelled, undo offered")
    _fill_booking(page, served, 3, day, "15:00", "16:00", "Weekly")
    page.select_option("select[name=repeat]", "weekly")
    page.fill("input[name=until]", future_day(40))
    page.click("#book button[type=submit]")
    check("a series' dates first")
    page.goto(f"{served}/rooms/3?date={day}")
    page.get_by_role("button", name="Calendar address of this room").click()
    check("a new calendar address")
    page.goto(f"{served}/rooms/999")
    check("not found")
    page.goto(f"{served}/account")
    check("my account")
    page.get_by_role("button", name=re.compile("^Sign out")).click()
    check("sign-in")
    page.fill("input[name=email]", "admin@example.com")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    check("sign-in refused")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    for path, state in (("/admin", "admin"), ("/admin/rooms/1", "admin, a room"),
                        ("/admin/users/2", "admin, a person"),
                        (f"/admin/bookings?date={day}", "admin, a day's bookings"),
                        ("/admin/rules", "admin, booking rules")):
        page.goto(served + path)
        check(state)


@pytest.mark.parametrize("screen", list(SCREENS))
def test_no_critical_or_serious_wcag_violation_on_any_page(served: str, screen: str) -> None:
    from playwright.sync_api import sync_playwright

    found: dict[str, list[str]] = {}
    seen: list[str] = []
    with sync_playwright() as p:
        page = _signed_in(p, served, viewport=SCREENS[screen])
        _states(page, served, future_day(12 if screen == "phone" else 13),
                lambda state: _check(page, state, found, seen))
        page.context.browser.close()
    assert len(seen) == 22, seen  # every state was reached and checked
    assert not found, "\n".join(f"{s}: {v}" for s, vs in found.items() for v in vs)


def test_the_pages_in_french_from_the_browser_s_language_and_the_footer(served: str) -> None:
    """A browser that asks for French gets the pages in French (and axe finds
    nothing critical or serious in them: a longer text must not break the
    layout's contrast or targets); the footer's choice of English holds."""
    from playwright.sync_api import sync_playwright

    found: dict[str, list[str]] = {}
    seen: list[str] = []
    day = future_day(14)
    with sync_playwright() as p:
        page = _signed_in(p, served, locale="fr-FR", extra_http_headers={
            "Accept-Language": "fr-FR,fr;q=0.9"})
        page.goto(f"{served}/?date={day}")
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.get_by_role("heading", name=re.compile("^Salles")).is_visible()
        _check(page, "grille du jour", found, seen)
        _fill_booking(page, served, 2, day, "10:00", "11:00", "Revue")
        page.get_by_role("button", name="Réserver", exact=True).click()
        assert page.get_by_text(re.compile("^Réservé : 10:00-11:00 le ")).is_visible()
        _check(page, "mes réservations", found, seen)
        page.select_option("select[name=lang]", "en")
        page.get_by_role("button", name="Changer").click()
        assert page.get_by_role("heading", name="My bookings").is_visible()
        page.context.browser.close()
    assert seen == ["grille du jour", "mes réservations"]
    assert not found, "\n".join(f"{s}: {v}" for s, vs in found.items() for v in vs)
