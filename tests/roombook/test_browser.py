"""A person's path in a real browser (Debian's chromium, driven by Playwright):
sign in, book a room, see the booking, try the same time again, read the conflict."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.roombook.conftest import PASSWORD, future_day

pytestmark = pytest.mark.tools
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_book_and_meet_a_conflict(served: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `make install`")
    from playwright.sync_api import sync_playwright

    day = future_day(5)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{served}/login")
        page.fill("input[name=email]", "alice@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text().startswith("Rooms")

        _fill_booking(page, served, 2, day, "14:00", "15:00", "Design review")
        page.click("#book button[type=submit]")
        assert "Booked: 14:00-15:00" in page.locator(".flash.ok").inner_text()
        assert page.locator("td", has_text="Design review").count() == 1

        page.goto(f"{served}/rooms/2?date={day}")
        mine = page.locator("td.mine")  # the booking's two slots: one cell
        assert mine.count() == 1 and mine.get_attribute("colspan") == "2"
        page.select_option("select[name=start]", "14:30")
        page.select_option("select[name=end]", "16:00")
        page.click("#book button[type=submit]")
        error = page.locator(".flash.error").inner_text()
        assert "already booked" in error
        assert page.locator(".suggest a.chip", has_text="16:00-17:30").count() == 1
        page.screenshot(path=str(tmp_path / "conflict.png"), full_page=True)
        browser.close()
    assert (tmp_path / "conflict.png").stat().st_size > 0
    shutil.copy(tmp_path / "conflict.png", "/tmp/roombook-conflict.png")


SCREENS = Path("/tmp/roombook-screens")  # kept after the run, for a person to look at


def _signed_in(p: Any, served: str, email: str = "alice@example.com", **context: Any) -> Any:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: run `make install`")
    browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page(**context)
    page.goto(f"{served}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return page


def _fill_booking(page: Any, served: str, room: int, day: str, start: str, end: str,
                  title: str) -> None:
    """A room's booking form, filled in (not sent)."""
    page.goto(f"{served}/rooms/{room}?date={day}")
    page.select_option("select[name=start]", start)
    page.select_option("select[name=end]", end)
    page.fill("input[name=title]", title)


def _shot(page: Any, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / name), full_page=True)


def test_drag_across_free_slots_in_the_day_view_then_book(served: str) -> None:
    from playwright.sync_api import sync_playwright

    day = future_day(6)
    with sync_playwright() as p:
        page = _signed_in(p, served)
        page.goto(f"{served}/?date={day}")
        row = page.locator("tr", has=page.locator("th a", has_text="Curie"))
        first = row.locator("td.free a[href*='start=10:00']")
        last = row.locator("td.free a[href*='start=11:00']")
        first.hover()
        page.mouse.down()
        last.hover()
        page.mouse.up()
        page.wait_for_url("**/rooms/3?**")
        assert page.locator("select[name=start]").input_value() == "10:00"
        assert page.locator("select[name=end]").input_value() == "11:30"
        page.fill("input[name=title]", "Planning")
        page.click("#book button[type=submit]")
        assert "Booked: 10:00-11:30" in page.locator(".flash.ok").inner_text()
        page.goto(f"{served}/?date={day}")
        cell = row.locator("td.mine")
        assert cell.get_attribute("colspan") == "3" and "Planning · Alice" in cell.inner_text()
        _shot(page, "day-view.png")
        page.context.browser.close()


def test_book_with_the_keyboard_alone(served: str) -> None:
    from playwright.sync_api import sync_playwright

    day = future_day(7)
    with sync_playwright() as p:
        page = _signed_in(p, served)
        page.goto(f"{served}/?date={day}")
        for _ in range(40):  # Tab until a free slot has the focus
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.closest('td.free') !== null"):
                break
        else:
            pytest.fail("no free slot can be reached with Tab")
        label = page.evaluate("document.activeElement.getAttribute('aria-label')")
        page.keyboard.press("Enter")
        page.wait_for_url("**/rooms/*start=*")
        page.keyboard.type("Call")  # the title field has the focus on a prefilled form
        page.keyboard.press("Enter")
        ok = page.locator(".flash.ok").inner_text()
        assert ok.startswith("Booked: ") and label.split(", ")[-1].replace(" to ", "-") in ok
        page.context.browser.close()


@pytest.mark.parametrize("width", [360, 390])
def test_no_page_scrolls_sideways_on_a_phone(served: str, width: int) -> None:
    from playwright.sync_api import sync_playwright

    day = future_day(8)
    with sync_playwright() as p:
        page = _signed_in(p, served, viewport={"width": width, "height": 800})
        _fill_booking(page, served, 1, day, "09:00", "10:00",
                      "A rather long title for a small screen")
        page.click("#book button[type=submit]")
        wide = {}
        for path in ("/", f"/?date={day}", f"/rooms/1?date={day}", f"/rooms/1/week?date={day}",
                     "/bookings"):
            page.goto(served + path)
            over = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if over > 0:
                wide[path] = over
            header = page.evaluate("document.querySelector('header').getBoundingClientRect().width")
            assert header >= width - 1, f"{path}: the header bar stops short"
        _shot(page, f"bookings-{width}.png")
        page.goto(f"{served}/?date={day}")
        _shot(page, f"day-view-{width}.png")
        page.context.browser.close()
    assert not wide, f"wider than {width} px: {wide}"


def test_book_a_weekly_series_seeing_its_dates_first(served: str) -> None:
    from datetime import date, timedelta

    from playwright.sync_api import sync_playwright

    day = future_day(9)
    until = (date.fromisoformat(day) + timedelta(weeks=3)).isoformat()
    with sync_playwright() as p:
        page = _signed_in(p, served)
        page.goto(f"{served}/rooms/4?date={day}&start=16:00&end=17:00")
        page.fill("input[name=title]", "Team sync")
        page.select_option("select[name=repeat]", "weekly")
        page.fill("input[name=until]", until)
        page.click("#book button[type=submit]")
        assert page.locator("tr.free").count() == 4
        page.click("#confirm button[name=confirm]")
        assert "Booked 4 dates, 16:00-17:00 every week" in page.locator(".flash.ok").inner_text()
        assert page.locator("text=(a series)").count() == 4
        page.locator("button", has_text="Cancel this and later dates").nth(2).click()
        assert "Cancelled 2 dates of the series" in page.locator(".flash.ok").inner_text()
        _shot(page, "series.png")
        page.context.browser.close()


def _wider_than_the_screen(page: Any, served: str, paths: list[str]) -> dict[str, int]:
    wide = {}
    for path in paths:
        page.goto(served + path)
        over = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if over > 0:
            wide[path] = over
    return wide


def test_move_a_booking_then_see_it_in_the_week(served: str) -> None:
    from playwright.sync_api import sync_playwright

    day = future_day(11)
    with sync_playwright() as p:
        page = _signed_in(p, served, viewport={"width": 390, "height": 800})
        page.goto(f"{served}/rooms/1?date={day}&start=09:00&end=10:00")
        page.fill("input[name=title]", "Retro")
        page.click("#book button[type=submit]")
        page.click("a:has-text('Edit')")
        edit_url = page.url.removeprefix(served)
        page.select_option("select[name=room_id]", label="Babbage")
        page.select_option("select[name=start]", "13:00")
        page.select_option("select[name=end]", "14:30")
        page.click("#edit button[type=submit]")
        assert "Booking moved: 13:00-14:30" in page.locator(".flash.ok").inner_text()
        page.goto(f"{served}/rooms/2/week?date={day}")
        assert page.locator("tr td.mine", has_text="Retro").count() == 1
        assert page.locator("th.rowhead").count() == 8  # the header's and seven days
        wide = _wider_than_the_screen(page, served, [edit_url, f"/rooms/2/week?date={day}"])
        _shot(page, "week-390.png")
        page.context.browser.close()
    assert not wide, wide


def test_a_calendar_address_made_read_then_revoked(served: str) -> None:
    from icalendar import Calendar
    from playwright.sync_api import sync_playwright

    day = future_day(12)
    with sync_playwright() as p:
        page = _signed_in(p, served)
        page.goto(f"{served}/rooms/3?date={day}&start=15:00&end=16:00")
        page.fill("input[name=title]", "Board")
        page.click("#book button[type=submit]")
        page.click("button:has-text('New address for my bookings')")
        # Shown once, ready to copy or to open in a calendar application.
        url = page.locator("#feed-url").input_value()
        webcal = page.get_by_role("link", name="Open in my calendar app").get_attribute("href")
        assert webcal == "webcal://" + url.split("://", 1)[1]
        page.get_by_role("button", name="Copy").click()
        # The clipboard answers asynchronously: wait for the button to say so.
        page.get_by_role("button", name="Copied").wait_for(timeout=5000)
        page.reload()
        assert page.locator("#feed-url").count() == 0
        got = page.request.get(url)
        assert got.status == 200 and got.headers["content-type"].startswith("text/calendar")
        events = Calendar.from_ical(got.body()).walk("VEVENT")
        assert [str(e["summary"]) for e in events] == ["Board (Curie)"]
        page.click("button:has-text('Revoke')")
        assert page.request.get(url).status == 404
        page.context.browser.close()


def test_an_administrator_on_a_phone(served: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        page = _signed_in(p, served, "admin@example.com", viewport={"width": 360, "height": 800})
        page.goto(f"{served}/admin")
        page.click("a:has-text('Ada')")
        page.fill("input[name=equipment]", "screen, plants")
        page.click("button:has-text('Save')")
        assert "Room Ada saved" in page.locator(".flash.ok").inner_text()
        page.click("a:has-text('bob@example.com')")
        person = page.url.removeprefix(served)
        wide = _wider_than_the_screen(page, served, ["/admin", "/admin/rooms/1", person,
                                                     "/admin/bookings", "/bookings"])
        _shot(page, "admin-360.png")
        page.context.browser.close()
    assert not wide, wide


FAR = ("0001-01-01", "9999-12-31")


def test_days_far_off_are_refused_with_words_not_an_error_page(served: str) -> None:
    """A date at either end of the calendar in the address (a typo, a
    bookmark edited by hand): the day, week and administrator's views say
    what is wrong and show today, never a 500."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        page = _signed_in(p, served, "admin@example.com")
        for day in FAR:
            for path in (f"/?date={day}", f"/rooms/1/week?date={day}", f"/rooms/1?date={day}",
                         f"/admin/bookings?date={day}"):
                r = page.goto(served + path)
                assert r is not None and r.status == 200, (path, r and r.status)
                assert "out of range" in page.locator(".flash.error").inner_text(), path
        page.context.browser.close()


def test_a_title_without_spaces_does_not_widen_the_lists(served: str) -> None:
    """A hundred characters without a space (a pasted link, say): My
    bookings and the administrator's list wrap it instead of running 1,600
    px wide."""
    from playwright.sync_api import sync_playwright

    day = future_day(9)
    with sync_playwright() as p:
        page = _signed_in(p, served, "admin@example.com", viewport={"width": 1280, "height": 800})
        _fill_booking(page, served, 1, day, "11:00", "12:00", "x" * 100)
        page.click("#book button[type=submit]")
        wide = {}
        for path in ("/bookings", f"/admin/bookings?date={day}"):
            page.goto(served + path)
            over = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if over > 0:
                wide[path] = over
        page.context.browser.close()
    assert not wide, wide


def test_cancel_is_asked_first_and_can_be_undone(served: str) -> None:
    """Cancel used to be one click, styled as the main action, with no way
    back. Now: asked first (Keep it leaves the booking), then cancelled with
    an Undo at hand that brings it back while the room is free."""
    from playwright.sync_api import sync_playwright

    day = future_day(11)
    with sync_playwright() as p:
        page = _signed_in(p, served)
        _fill_booking(page, served, 3, day, "13:00", "14:00", "Budget")
        page.click("#book button[type=submit]")
        row = page.locator("tr", has_text="Budget")
        assert row.locator("button").count() == 0  # no one-click cancel in the list
        row.get_by_role("link", name="Cancel…").click()
        assert page.locator("h1").inner_text() == "Cancel this booking?"
        assert "Budget" in page.locator("main").inner_text()
        page.get_by_role("link", name="Keep it").click()
        assert "confirmed" in page.locator("tr", has_text="Budget").inner_text()
        page.locator("tr", has_text="Budget").get_by_role("link", name="Cancel…").click()
        page.get_by_role("button", name="Cancel the booking").click()
        assert "Booking cancelled" in page.locator(".flash.ok").inner_text()
        assert "cancelled" in page.locator("tr", has_text="Budget").inner_text()
        page.get_by_role("button", name="Undo").click()
        assert "undone" in page.locator(".flash.ok").inner_text()
        assert "confirmed" in page.locator("tr", has_text="Budget").inner_text()
        page.goto(f"{served}/rooms/3?date={day}")
        assert page.locator("td.mine").count() == 1  # the room is held again
        page.context.browser.close()


def test_a_move_that_conflicts_offers_a_free_time_one_click_away(served: str) -> None:
    """Moving a booking onto someone else's used to say "unchanged" and
    offer nothing; now the free times and rooms are offered as when
    booking, a click fills the form, and Save moves it."""
    from playwright.sync_api import sync_playwright

    day = future_day(13)
    with sync_playwright() as p:
        bob = _signed_in(p, served, "bob@example.com")
        bob.goto(f"{served}/rooms/2?date={day}&start=11:00&end=12:00")
        bob.fill("input[name=title]", "Bob's")
        bob.click("#book button[type=submit]")
        bob.context.browser.close()
        page = _signed_in(p, served)
        page.goto(f"{served}/rooms/2?date={day}&start=09:00&end=10:00")
        page.fill("input[name=title]", "Standup")
        page.click("#book button[type=submit]")
        page.locator("tr", has_text="Standup").get_by_role("link", name="Edit").click()
        page.select_option("select[name=start]", "11:00")
        page.select_option("select[name=end]", "12:00")
        page.click("#edit button[type=submit]")
        assert "unchanged" in page.locator(".flash.error").inner_text()
        page.locator(".suggest a.chip", has_text="12:00-13:00").click()
        page.click("#edit button[type=submit]")
        assert "Booking moved: 12:00-13:00" in page.locator(".flash.ok").inner_text()
        page.context.browser.close()


@pytest.mark.parametrize("how", ["signed out elsewhere", "cookie cleared"])
def test_a_booking_typed_when_the_session_ended_is_kept(served: str, how: str) -> None:
    """The session ends while a booking form is open (signed out from
    another browser, or the cookie cleared): sending it leads to the sign-in
    and then back to the form with what was typed (it led to a 405 page, or
    a 400 "form expired", and the booking was lost)."""
    from playwright.sync_api import sync_playwright

    day = future_day(14)
    with sync_playwright() as p:
        page = _signed_in(p, served)
        _fill_booking(page, served, 4, day, "15:00", "16:30", "Quarterly review")
        if how == "cookie cleared":
            page.context.clear_cookies()
        else:
            other = _signed_in(p, served)
            other.click("button:has-text('Sign out')")
            other.context.browser.close()
        page.click("#book button[type=submit]")
        assert "/login" in page.url
        page.fill("input[name=email]", "alice@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert page.locator("select[name=start]").input_value() == "15:00"
        assert page.locator("select[name=end]").input_value() == "16:30"
        assert page.locator("input[name=title]").input_value() == "Quarterly review"
        page.click("#book button[type=submit]")
        assert "Booked: 15:00-16:30" in page.locator(".flash.ok").inner_text()
        page.context.browser.close()


def _luminance(css: str) -> float:
    """WCAG's relative luminance of an rgb()/rgba() colour."""
    r, g, b = (int(x) for x in css[css.index("(") + 1:css.index(")")].split(",")[:3])

    def lin(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def _ratio(a: float, b: float) -> float:
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def test_the_grid_s_states_differ_in_brightness_not_hue_alone(served: str) -> None:
    """Free, past, taken and yours were told apart by a faint hue (1.01-1.10:1
    in brightness): now at least 1.35:1 between any two, the past hatched,
    and any label on a taken or own slot readable (4.5:1)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        page = _signed_in(p, served)
        page.goto(f"{served}/rooms/1")
        style = {k: page.evaluate(
            "k => { const s = getComputedStyle(document.querySelector('.legend span.' + k));"
            " return [s.backgroundColor, s.color, s.backgroundImage]; }", k)
            for k in ("free", "past", "taken", "mine")}
        page.context.browser.close()
    light = {k: _luminance(bg) for k, (bg, _, _) in style.items()}
    pairs = {(a, b): round(_ratio(light[a], light[b]), 2) for a in light for b in light if a < b}
    assert min(pairs.values()) >= 1.35, pairs
    assert "gradient" in style["past"][2]
    for k in ("taken", "mine"):
        assert _ratio(_luminance(style[k][0]), _luminance(style[k][1])) >= 4.5, (k, style[k])


def test_on_a_phone_free_times_are_a_list_of_targets_a_finger_can_hit(served: str) -> None:
    """On a 360 px phone the grid's cells were 10 px wide, titles hidden,
    a range pickable by mouse only: now each stretch of free time is one
    link at least 24 px each way (WCAG 2.2's target size), each booking says
    its title, and a tap opens the form with that stretch filled in."""
    from playwright.sync_api import sync_playwright

    day = future_day(15)
    with sync_playwright() as p:
        page = _signed_in(p, served, viewport={"width": 360, "height": 740}, has_touch=True)
        page.goto(f"{served}/rooms/2?date={day}&start=10:00&end=11:00")
        page.fill("input[name=title]", "Phone call")
        page.click("#book button[type=submit]")
        page.goto(f"{served}/?date={day}")
        assert not page.locator("table.slots").is_visible()
        babbage = page.locator("section.runs", has_text="Babbage")
        assert "10:00-11:00 Phone call" in babbage.inner_text()
        chips = babbage.locator("a.chip")
        assert [c.inner_text() for c in chips.all()] == ["08:00-10:00 free", "11:00-20:00 free"]
        small = [box for box in (c.bounding_box() for c in page.locator("a.chip").all())
                 if box is None or box["width"] < 24 or box["height"] < 24]
        assert not small, small
        chips.first.tap()
        assert page.locator("select[name=start]").input_value() == "08:00"
        assert page.locator("select[name=end]").input_value() == "10:00"
        page.context.browser.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_find_a_room_for_six_with_a_projector_and_book_it_in_one_click(served: str,
                                                                       width: int) -> None:
    from playwright.sync_api import sync_playwright

    day = future_day(14)
    with sync_playwright() as p:
        page = _signed_in(p, served, viewport={"width": width, "height": 800})
        page.get_by_role("link", name="Find a room").click()
        page.fill("input[name=people]", "6")
        page.fill("input[name=equipment]", "projector")
        page.fill("input[name=date]", day)
        page.select_option("select[name=start]", "14:00")
        page.select_option("select[name=minutes]", "90")
        page.fill("input[name=title]", "Launch plan")
        page.get_by_role("button", name="Find").click()
        found = page.locator("ul.found li strong").all_inner_texts()
        assert found == ["Curie", "Darwin"], found  # 12 seats before 20; no projector elsewhere
        over = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        page.get_by_role("button", name="Book Curie, 14:00-15:30").click()
        assert "Booked: 14:00-15:30" in page.locator(".flash.ok").inner_text()
        assert page.locator("tr", has_text="Launch plan").count() == 1
        page.goto(f"{served}/find?date={day}&start=14:00&minutes=90&people=6"
                  "&equipment=projector")
        assert page.locator("ul.found li strong").all_inner_texts() == ["Darwin"]
        page.context.browser.close()
    assert over <= 0, f"the finder is {over} px wider than a {width} px screen"


def test_a_room_s_day_prints_as_its_grid_without_navigation(served: str) -> None:
    from playwright.sync_api import sync_playwright

    day = future_day(15)
    with sync_playwright() as p:
        page = _signed_in(p, served)
        _fill_booking(page, served, 1, day, "09:00", "10:00", "Printed meeting")
        page.click("#book button[type=submit]")
        for path in (f"/rooms/1?date={day}", f"/rooms/1/week?date={day}", f"/?date={day}"):
            page.goto(served + path)
            assert page.get_by_role("button", name="Print").is_visible(), path
            page.emulate_media(media="print")
            assert not page.locator("header").is_visible(), path
            assert not page.locator(".daynav").first.is_visible(), path
            assert page.locator("table.slots").is_visible(), path
            assert page.locator("td.mine", has_text="Printed meeting").is_visible(), path
            page.emulate_media(media="screen")
        page.goto(f"{served}/rooms/1?date={day}")
        assert page.pdf()[:4] == b"%PDF"  # chromium's own print of it
        page.context.browser.close()


@pytest.mark.parametrize("width", [1280, 360])
def test_an_administrator_sets_rules_and_a_person_meets_them(served: str, width: int) -> None:
    from playwright.sync_api import sync_playwright

    day = future_day(16)
    with sync_playwright() as p:
        admin = _signed_in(p, served, "admin@example.com",
                           viewport={"width": width, "height": 800})
        admin.get_by_role("link", name="Admin", exact=True).click()
        admin.get_by_role("link", name="Booking rules and closed days").click()
        admin.fill("input[name=longest_minutes]", "60")
        admin.get_by_label("Closed on Sundays").check()
        admin.get_by_role("button", name="Save the rules").click()
        assert "Rules saved" in admin.locator(".flash.ok").inner_text()
        assert admin.get_by_label("Closed on Sundays").is_checked()
        over = admin.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        admin.context.browser.close()
        page = _signed_in(p, served, viewport={"width": width, "height": 800})
        _fill_booking(page, served, 2, day, "09:00", "11:00", "Too long")
        page.click("#book button[type=submit]")
        error = page.locator(".flash.error").inner_text()
        assert "a booking lasts at most 1 h (this one 2 h)" in error, error
        page.context.browser.close()
    assert over <= 0, f"the rules page is {over} px wider than the screen"


def test_change_my_password_on_a_phone(served: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        page = _signed_in(p, served, viewport={"width": 360, "height": 740})
        page.get_by_role("link", name="My account").click()
        page.fill("input[name=current]", PASSWORD)
        page.fill("input[name=new]", "a brand new passphrase")
        page.fill("input[name=again]", "a brand new passphrase")
        page.get_by_role("button", name="Change my password").click()
        assert "Password changed" in page.locator(".flash.ok").inner_text()
        page.get_by_role("button", name="Sign out Alice").click()
        page.fill("input[name=email]", "alice@example.com")
        page.fill("input[name=password]", "a brand new passphrase")
        page.click("button[type=submit]")
        assert page.locator("h1").inner_text().startswith("Rooms")
        page.context.browser.close()
