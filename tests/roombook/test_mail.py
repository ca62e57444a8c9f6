"""The outbox against a real SMTP server (aiosmtpd): a mail per event,
queued in the booking's transaction, sent once; the same Message-ID when a
claim is taken over; nothing sent from a read-only copy; reminders once."""

from __future__ import annotations

import email
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from roombook.app import create_app
from roombook.changes import cancel
from roombook.config import ConfigError, Settings, from_env
from roombook.db import RETRIES
from roombook.models import Booking, Mail, User
from roombook.outbox import BATCH, CLAIM_S, POLL_S, Sender, again, stop_with
from roombook.slots import local_start
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from roombook import i18n
from tests.roombook.conftest import PASSWORD, future_day, make_app, token_for
from tests.roombook.test_rules import set_rules
from tests.roombook.test_web import csrf
from tests.support.servers import MariaDB, free_port

DAY = future_day()


@dataclass
class Inbox:
    """What the SMTP server received, and a switch to refuse everything."""

    got: list[Message] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return "451 try again later"
        self.got.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(base: Settings, port: int) -> Settings:
    return replace(base, smtp_host="127.0.0.1", smtp_port=port, mail_from="rooms@example.org",
                   site_url="https://rooms.example.org", send_mail=False)


@pytest.fixture
def mail_app(tmp_path: Path, sqlite_template: Path, smtp: tuple[Inbox, int]) -> Flask:
    shutil.copy(sqlite_template, tmp_path / "rb.db")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'rb.db'}", secret_key="s" * 32,
                        upload_dir=str(tmp_path / "up"))
    app = create_app(mail_settings(settings, smtp[1]))
    app.config["TESTING"] = True
    return app


def sender(app: Flask) -> Sender:
    st = app.extensions["roombook"]
    return Sender(st.maker, st.engine, st.settings)


def book(client: FlaskClient, headers: dict[str, str], start: str = "09:00",
         end: str = "10:00", **extra: Any) -> dict[str, Any]:
    r = client.post("/api/bookings", json={"room_id": 1, "date": DAY, "start": start,
                                           "end": end} | extra,
                    headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, r.json
    return r.json  # type: ignore[no-any-return]


def senders_at_once(app: Flask, n: int) -> list[int]:
    """n senders' rounds at the same time; what each sent."""
    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(sender(app).once()))
               for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def calendar_of(msg: Message) -> str:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    return parts[0].get_payload(decode=True).decode() if parts else ""  # type: ignore[union-attr]


def rows(app: Flask) -> list[Mail]:
    with app.extensions["roombook"].maker() as s:
        return list(s.scalars(select(Mail).order_by(Mail.id)))


def auth(client: FlaskClient, who: str = "alice@example.com") -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, who)}"}


def test_a_booking_is_mailed_once_with_an_invitation(mail_app: Flask,
                                                     smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    made = book(client, auth(client), title="Planning")
    (queued,) = rows(mail_app)
    assert (queued.booking_id, queued.kind, queued.sent_at) == (made["id"], "confirmed", None)
    assert sender(mail_app).once() == 1
    assert sender(mail_app).once() == 0  # sent once
    (msg,) = smtp[0].got
    assert msg["Message-ID"] == queued.message_id and msg["To"] == "Alice <alice@example.com>"
    assert msg["Subject"].startswith("Booked: Planning, Ada, ")
    assert msg["Auto-Submitted"] == "auto-generated"
    ics = calendar_of(msg)
    assert "METHOD:REQUEST" in ics and f"UID:booking-{made['id']}@roombook" in ics
    assert "SEQUENCE:0" in ics and "BEGIN:VTIMEZONE" in ics
    assert "https://rooms.example.org/my" in msg.get_payload(0).get_payload()  # type: ignore[union-attr]


def test_a_person_who_signed_in_in_french_is_mailed_in_french(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    """The language of the sign-in is kept with the person (User.locale),
    and their mails are written in it; another person's stay in English."""
    mail_app.config["WTF_CSRF_ENABLED"] = True
    client = mail_app.test_client()
    client.set_cookie(i18n.COOKIE, "fr")
    page = client.get("/login").data
    r = client.post("/login", data={"csrf_token": csrf(page), "email": "alice@example.com",
                                    "password": PASSWORD})
    assert r.status_code == 302
    api = mail_app.test_client()
    made = book(api, auth(api), title="Budget")
    book(api, auth(api, "bob@example.com"), start="11:00", end="12:00")
    assert sender(mail_app).once() == 2
    french, english = sorted(smtp[0].got, key=lambda m: m["To"])  # Alice, then Bob
    day = date.fromisoformat(DAY)
    subject = str(make_header(decode_header(french["Subject"])))
    assert subject == f"Réservé: Budget, Ada, {i18n.longdate(day, 'fr')} 09:00-10:00"
    text = french.get_payload(0).get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "Bonjour Alice," in text and "votre réservation est confirmée :" in text
    assert "Vos réservations : https://rooms.example.org/my" in text
    assert f"UID:booking-{made['id']}@roombook" in calendar_of(french)
    assert english["Subject"].startswith("Booked: Booking, Ada, "), english["Subject"]
    assert "Hello Bob," in english.get_payload(0).get_payload()  # type: ignore[union-attr]


def test_a_change_before_the_first_mail_went_sends_only_the_change(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    alice = auth(client)
    made = book(client, alice)
    r = client.patch(f"/api/bookings/{made['id']}",
                     json={"date": DAY, "start": "11:00", "end": "12:00"}, headers=alice)
    assert r.status_code == 200, r.json
    assert [m.kind for m in rows(mail_app)] == ["confirmed", "changed"]
    assert sender(mail_app).once() == 1
    (msg,) = smtp[0].got
    assert msg["Subject"].startswith("Changed: ") and "11:00-12:00" in msg["Subject"]
    assert "SEQUENCE:1" in calendar_of(msg)
    assert rows(mail_app)[0].last_error == "superseded by a later change"


def test_someone_elses_cancellation_is_told_with_its_reason_ones_own_is_not(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    alice = auth(client)
    mine = book(client, alice)
    theirs = book(client, alice, start="13:00", end="14:00")
    assert client.delete(f"/api/bookings/{mine['id']}", headers=alice).status_code == 200
    st = mail_app.extensions["roombook"]
    with st.maker() as s:
        boss = s.scalar(select(User).where(User.email == "admin@example.com"))
    cancel(st.maker, booking_id=theirs["id"], user=boss, now=datetime.now(UTC).replace(
        tzinfo=None), reason="the board meets there")
    assert [m.kind for m in rows(mail_app)] == ["confirmed", "confirmed", "cancelled"]
    sender(mail_app).once()
    told = [m for m in smtp[0].got if m["Subject"].startswith("Cancelled")]
    assert len(told) == 1
    text = told[0].get_payload(0).get_payload()  # type: ignore[union-attr]
    assert "Cancelled by Admin: the board meets there" in text
    ics = calendar_of(told[0])
    assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics and "SEQUENCE:1" in ics


def test_a_server_that_refuses_is_tried_again_with_the_same_message_id(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    book(client, auth(client))
    smtp[0].refuse = True
    assert sender(mail_app).once() == 0
    (row,) = rows(mail_app)
    assert row.sent_at is None and row.tries == 1 and "451" in row.last_error
    smtp[0].refuse = False
    assert sender(mail_app).once() == 0  # claimed: not before CLAIM_S
    later = datetime.now(UTC) + timedelta(seconds=CLAIM_S + 1)
    assert sender(mail_app).once(now=later) == 1
    assert smtp[0].got[0]["Message-ID"] == row.message_id


def test_a_claim_never_marked_sent_is_sent_again_as_the_same_mail(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    """The sender's node died between the SMTP server's OK and the mark
    (a failover in the middle of sending): the new primary's sender takes
    the claim over after CLAIM_S; the mail goes out again, the same mail."""
    client = mail_app.test_client()
    book(client, auth(client))
    st = mail_app.extensions["roombook"]
    claimed = datetime.now(UTC).replace(tzinfo=None)
    with st.maker.begin() as s:
        s.execute(update(Mail).values(claimed_at=claimed, tries=1))
    assert sender(mail_app).once() == 0
    assert sender(mail_app).once(now=datetime.now(UTC) + timedelta(seconds=CLAIM_S + 1)) == 1
    (row,) = rows(mail_app)
    assert smtp[0].got[0]["Message-ID"] == row.message_id and row.tries == 2


def test_two_senders_at_once_send_each_mail_once(mail_app: Flask,
                                                 smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    alice = auth(client)
    for n in range(6):
        book(client, alice, start=f"{9 + n:02d}:00", end=f"{9 + n:02d}:30")
    counts = senders_at_once(mail_app, 4)
    assert sum(counts) == 6 and len(smtp[0].got) == 6
    assert len({m["Message-ID"] for m in smtp[0].got}) == 6


def test_a_busy_outbox_is_sent_round_after_round_without_waiting(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    """A round that found a whole batch says more may be waiting: the
    sender's next round comes at once, not POLL_S later (under load the
    outbox fell behind at BATCH mails per POLL_S a sender)."""
    client = mail_app.test_client()
    alice = auth(client)
    for n in range(BATCH + 5):
        first = 8 * 60 + 30 * (n % 16)  # a half-hour of its own, 16 a day
        book(client, alice, start=f"{first // 60:02d}:{first % 60:02d}",
             end=f"{(first + 30) // 60:02d}:{(first + 30) % 60:02d}",
             date=future_day(20 + n // 16))
    one = sender(mail_app)
    assert one.once() == BATCH and one.backlog
    assert one.once() == 5 and not one.backlog
    assert len(smtp[0].got) == BATCH + 5

    class Rounds(Sender):
        """A sender whose first round finds a whole batch, its second not."""

        rounds = 0

        def once(self, now: datetime | None = None) -> int:
            self.rounds += 1
            self.backlog = self.rounds == 1
            return 0

    waits: list[float] = []

    class ThreeLooks(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0.0)
            return len(waits) > 2

    st = mail_app.extensions["roombook"]
    busy = Rounds(st.maker, st.engine, st.settings)
    busy.run(ThreeLooks())
    assert waits == [POLL_S, 0, POLL_S] and busy.rounds == 2


def test_a_stopping_worker_ends_the_round_after_the_mail_in_flight(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    """The worker stops (a roll restarts the application) while its sender
    sends: that mail is sent and marked, nothing more is claimed, and
    stop_with waits for it. Cut anywhere, as a daemon thread was, the mail
    could be sent and never marked: sent again after CLAIM_S."""
    client = mail_app.test_client()
    alice = auth(client)
    for n in range(3):
        book(client, alice, start=f"{9 + n:02d}:00", end=f"{9 + n:02d}:30")
    one = sender(mail_app)
    real = one.connect

    def connect() -> Any:
        smtp_ = real()
        send = smtp_.send_message

        def sent_then_stop(msg: Any) -> Any:
            answer = send(msg)
            one.stopping.set()  # the stop arrives while the first mail is on its way
            return answer

        smtp_.send_message = sent_then_stop  # type: ignore[method-assign]
        return smtp_

    one.connect = connect  # type: ignore[method-assign]
    assert one.once() == 1
    marked = [(m.sent_at is not None, m.claimed_at is not None) for m in rows(mail_app)]
    assert marked == [(True, True), (False, False), (False, False)]
    stop, ran = threading.Event(), threading.Event()
    thread = threading.Thread(target=lambda: (stop.wait(), time.sleep(0.2), ran.set()))
    thread.start()
    stop_with(stop, thread, wait_s=5)
    assert ran.is_set()  # waited for


def test_a_deadlock_is_tried_again_and_a_read_only_server_is_not() -> None:
    """InnoDB's deadlock (1213) and lock wait (1205): the claim or the mark
    is made again (a mark lost to one was a mail sent twice); a read-only
    server (1290, a failover) ends the round at once."""
    def failing(code: int, times: int) -> tuple[list[int], Any]:
        calls: list[int] = []

        def op() -> str:
            calls.append(code)
            if len(calls) <= times:
                raise OperationalError("UPDATE outbox", {}, Exception(code, "refused"))
            return "done"
        return calls, op

    calls, op = failing(1213, 2)
    assert again(op) == "done" and len(calls) == 3
    calls, op = failing(1205, RETRIES)
    with pytest.raises(OperationalError):
        again(op)
    assert len(calls) == RETRIES
    calls, op = failing(1290, 1)
    with pytest.raises(OperationalError):
        again(op)
    assert len(calls) == 1


def test_a_reminder_is_queued_once_before_the_meeting(mail_app: Flask,
                                                      smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    made = book(client, auth(client), start="10:00", end="11:00")
    st = mail_app.extensions["roombook"]
    begins = local_start(st.settings, date.fromisoformat(DAY), 4)  # 10:00
    soon = begins - timedelta(minutes=15)
    sender(mail_app).once(now=soon)
    sender(mail_app).once(now=soon + timedelta(minutes=1))
    kinds = [(m.kind, m.booking_id) for m in rows(mail_app)]
    assert kinds == [("confirmed", made["id"]), ("reminder", made["id"])]
    assert [m["Subject"].split(":")[0] for m in smtp[0].got] == ["Booked", "Reminder"]
    assert calendar_of(smtp[0].got[1]) == ""  # a reminder carries no invitation


def test_a_site_without_smtp_queues_nothing(app: Flask) -> None:
    client = app.test_client()
    book(client, auth(client))
    assert rows(app) == []


def test_mail_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="ROOMBOOK_MAIL_FROM"):
        from_env({"ROOMBOOK_MAIL_FROM": "no-at-sign"})
    with pytest.raises(ConfigError, match="ROOMBOOK_REMIND_MINUTES"):
        from_env({"ROOMBOOK_REMIND_MINUTES": "-5"})
    s = from_env({"ROOMBOOK_SMTP_HOST": "mail.example.org", "ROOMBOOK_SMTP_PORT": "2525"})
    assert s.mail and s.smtp_port == 2525


def mariadb_mail_app(mariadb: MariaDB, tmp_path: Path, port: int) -> Flask:
    """An app on the tests' MariaDB whose site sends mail to the SMTP server on port."""
    base = make_app(mariadb.url(), tmp_path).extensions["roombook"].settings
    app = create_app(mail_settings(base, port))
    app.config["TESTING"] = True
    return app


def test_on_mariadb_a_read_only_copy_sends_nothing_and_the_primary_each_once(
        mariadb: MariaDB, tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    app = mariadb_mail_app(mariadb, tmp_path, smtp[1])
    client = app.test_client()
    alice = auth(client)
    day = future_day(61)
    made = [book(client, alice, start=f"{9 + n:02d}:00", end=f"{9 + n:02d}:30", date=day)
            for n in range(5)]
    mariadb.root("SET GLOBAL read_only = ON")
    try:
        assert sender(app).once() == 0 and smtp[0].got == []
    finally:
        mariadb.root("SET GLOBAL read_only = OFF")
    counts = senders_at_once(app, 4)
    assert sum(counts) == 5 and len({m["Message-ID"] for m in smtp[0].got}) == 5
    assert {int(m["Message-ID"].split(".")[1]) for m in smtp[0].got} == {b["id"] for b in made}


def test_on_mariadb_a_failover_mid_round_leaves_the_rest_unclaimed_for_the_new_primary(
        mariadb: MariaDB, tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    """The database stops taking writes while a sender is in the middle of
    its round (a switchover; here: read_only set while the SMTP server takes
    the second mail). The mail in flight is the only one left claimed (it
    went out and could not be marked: taken over after CLAIM_S, the same
    Message-ID); the rest were never claimed, and the new primary's sender
    sends them at once, each once."""
    app = mariadb_mail_app(mariadb, tmp_path, smtp[1])
    client = app.test_client()
    alice = auth(client)
    day = future_day(62)
    for n in range(5):
        book(client, alice, start=f"{9 + n:02d}:00", end=f"{9 + n:02d}:30", date=day)
    inbox = smtp[0]
    received = inbox.handle_DATA

    async def fail_over_at_the_second(server: Any, session: Any, envelope: Any) -> str:
        answer = await received(server, session, envelope)
        if len(inbox.got) == 2:
            mariadb.root("SET GLOBAL read_only = ON")
        return answer

    inbox.handle_DATA = fail_over_at_the_second  # type: ignore[method-assign]
    try:
        with pytest.raises(DBAPIError):  # the second mail's mark: refused
            sender(app).once()
    finally:
        mariadb.root("SET GLOBAL read_only = OFF")  # the new primary
    inbox.handle_DATA = received  # type: ignore[method-assign]
    in_flight = [m for m in rows(app) if m.claimed_at is not None and m.sent_at is None]
    assert [m.message_id for m in in_flight] == [inbox.got[1]["Message-ID"]]
    assert sender(app).once() == 3  # at once: not after CLAIM_S
    ids = [m["Message-ID"] for m in inbox.got]
    assert len(ids) == 5 == len(set(ids))


# ---- a password reset by mail ----------------------------------------------------

def ask(client: FlaskClient, address: str) -> str:
    token = csrf(client.get("/forgot").data)
    r = client.post("/forgot", data={"csrf_token": token, "email": address},
                    follow_redirects=True)
    assert r.status_code == 200
    return r.data.decode()


def link_in(msg: Message) -> str:
    text = msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
    (line,) = [w for w in text.split() if "/reset/" in w]
    return line.removeprefix("https://rooms.example.org")


def set_password(client: FlaskClient, path: str, new: str) -> Any:
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf(page.data), "new": new, "again": new})


def test_a_reset_link_is_mailed_works_once_and_ends_every_session(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    old_token = token_for(client)
    said_known = ask(client, "alice@example.com")
    said_unknown = ask(client, "nobody@example.com")
    assert "on its way" in said_known and "on its way" in said_unknown  # no tell
    ask(client, "alice@example.com")  # asked again at once: no second mail
    assert sender(mail_app).once() == 1
    (msg,) = smtp[0].got
    assert msg["To"] == "Alice <alice@example.com>" and msg["Subject"] == "Your roombook password"
    path = link_in(msg)
    time.sleep(1.1)  # tokens carry whole seconds: the reset's end comes after
    r = set_password(client, path, "a brand new passphrase")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert client.get("/api/rooms", headers={"Authorization": f"Bearer {old_token}"}
                      ).status_code == 401
    again = set_password(client, path, "yet another passphrase")
    assert again.status_code == 302 and again.headers["Location"].endswith("/forgot")
    assert token_for(client, password="a brand new passphrase")


def test_a_forged_or_damaged_reset_link_is_refused(mail_app: Flask) -> None:
    client = mail_app.test_client()
    for path in ("/reset/forged", "/reset/" + "x" * 399):
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/forgot"), path


def test_without_mail_there_is_no_reset(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/forgot").status_code == 404
    assert "Forgot your password" not in client.get("/login").data.decode()


# ---- check-in from the reminder ---------------------------------------------------

def test_the_reminder_carries_a_check_in_link_that_names_its_booking(
        mail_app: Flask, smtp: tuple[Inbox, int]) -> None:
    set_rules(mail_app, checkin_minutes="15")  # before the booking: it is asked
    client = mail_app.test_client()
    made = book(client, auth(client), start="10:00", end="11:00", title="Standup")
    st = mail_app.extensions["roombook"]
    soon = local_start(st.settings, date.fromisoformat(DAY), 4) - timedelta(minutes=15)
    sender(mail_app).once(now=soon)
    reminder = [m for m in smtp[0].got if m["Subject"].startswith("Reminder")]
    text = reminder[0].get_payload(decode=True).decode()  # type: ignore[union-attr]
    (link,) = [w for w in text.split() if "/checkin/" in w]
    path = link.removeprefix("https://rooms.example.org")
    stranger = mail_app.test_client()  # the link is the key: nobody signed in
    shown = stranger.get(path)
    assert shown.status_code == 200 and "Standup" in shown.data.decode()
    # Ten days ahead, its window is not open yet: said so, nothing changed.
    tried = stranger.post(path, data={"csrf_token": csrf(shown.data)})
    assert tried.status_code == 409 and "Not yet" in tried.data.decode()
    with st.maker() as s:
        assert s.get(Booking, made["id"]).checked_in_at is None  # type: ignore[union-attr]
    assert stranger.get(path[:-3] + "abc").status_code == 404  # a damaged link


def test_without_check_in_the_reminder_has_no_link(mail_app: Flask,
                                                   smtp: tuple[Inbox, int]) -> None:
    client = mail_app.test_client()
    book(client, auth(client), start="10:00", end="11:00")
    st = mail_app.extensions["roombook"]
    soon = local_start(st.settings, date.fromisoformat(DAY), 4) - timedelta(minutes=15)
    sender(mail_app).once(now=soon)
    text = smtp[0].got[-1].get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "/checkin/" not in text and "Reminder" in smtp[0].got[-1]["Subject"]
