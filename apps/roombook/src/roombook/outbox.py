"""The outbox: mails queued in the booking's own transaction, sent by the
primary (mail.py makes them).

Queued: a row per event, in the same transaction as the change it tells of
(`queue`, a no-op when the site sends no mail): the booking and its mail
commit together, replicate together, and a failover can lose neither.

Sent: every worker of the application runs a `Sender`, which acts only on a
writable database (the primary; a replica's senders wait) and claims a
mail before it sends it by a conditional UPDATE that only one claimant can
win, committed before the SMTP conversation begins, one mail at a time (when
the database stops taking writes mid-round, only the mail in flight is left
claimed; the new primary sends the rest at once): two senders, on one
node or on both sides of a switchover, never send the same mail at once.
Sent, it is marked so. A claim that was never marked sent (the sender, or
its node, died in the middle) is claimed again after CLAIM_S, and the mail
goes out again with the same Message-ID: the one case where a person can
get a mail twice, and the receiving side can tell it is the same one. SMTP
cannot do better: no server takes a mail and a database commit together."""

from __future__ import annotations

import atexit
import contextlib
import logging
import secrets
import smtplib
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TypeVar

from sqlalchemy import ColumnElement, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from roombook import auth, db, rules, rules_db
from roombook.config import Settings
from roombook.mail import Told, message, reset_message
from roombook.models import Booking, Mail, Room, User
from roombook.slots import local_start

log = logging.getLogger("roombook.outbox")
T = TypeVar("T")
CLAIM_S = 120  # a claim not marked sent after this is claimed again
BATCH = 20
POLL_S = 2.0
# A booking's mail that a later change of it makes stale is not sent.
STALE = {"confirmed", "changed", "reminder"}


def _open(now: datetime) -> ColumnElement[bool]:
    """A mail not sent, and not claimed or claimed longer than CLAIM_S ago."""
    return and_(Mail.sent_at.is_(None),
                or_(Mail.claimed_at.is_(None),
                    Mail.claimed_at < now - timedelta(seconds=CLAIM_S)))


def again(op: Callable[[], T]) -> T:
    """op, tried again after a deadlock or a lock wait (InnoDB's own word:
    "try restarting transaction"), a little later each time; a read-only
    server (a failover) ends it at once."""
    return db.again(op, pause_s=0.01)


def queue(s: Session, booking_id: int, kind: str, revision: int) -> None:
    """A mail owed for this booking's event, in the caller's transaction;
    nothing when the site sends no mail (db.sessions: `info["mail_domain"]`)."""
    domain = s.info.get("mail_domain")
    if not domain:
        return
    s.execute(insert(Mail).values(
        booking_id=booking_id, kind=kind, revision=revision,
        message_id=f"<roombook.{booking_id}.{kind}.{revision}.{secrets.token_hex(6)}@{domain}>",
        created_at=datetime.now(UTC).replace(tzinfo=None), tries=0, last_error=""))


RESET_EVERY_S = 300  # at most one reset mail per person in this long


def queue_reset(s: Session, user_id: int, now: datetime) -> bool:
    """A password reset's mail for this person, unless one was queued in the
    last RESET_EVERY_S (a form sent in a loop must not flood a mailbox).
    Whether it was queued."""
    domain = s.info.get("mail_domain")
    if not domain:
        return False
    recent = s.scalar(select(Mail.id).where(
        Mail.user_id == user_id, Mail.kind == "reset",
        Mail.created_at > now - timedelta(seconds=RESET_EVERY_S)).limit(1))
    if recent is not None:
        return False
    s.execute(insert(Mail).values(
        user_id=user_id, kind="reset", revision=0, created_at=now, tries=0, last_error="",
        message_id=f"<roombook.reset.{user_id}.{secrets.token_hex(8)}@{domain}>"))
    return True


def queue_many(s: Session, ids: list[int], kind: str) -> None:
    for bid, revision in s.execute(select(Booking.id, Booking.revision)
                                   .where(Booking.id.in_(ids))):
        queue(s, bid, kind, revision)


def remind(s: Session, settings: Settings, now: datetime) -> int:
    """Queue the reminders due: bookings starting within remind_minutes that
    were made before that (a booking made ten minutes ahead needs none);
    once per booking and revision. How many."""
    if not settings.remind_minutes or not s.info.get("mail_domain"):
        return 0
    ahead = timedelta(minutes=settings.remind_minutes)
    today = now.astimezone(settings.tz).date()
    rows = s.execute(select(Booking.id, Booking.day, Booking.start_slot, Booking.revision,
                            Booking.created_at, Booking.updated_at).where(
        Booking.status == "confirmed", Booking.day >= today,
        Booking.day <= today + timedelta(days=1)))
    due = []
    for bid, day, start, revision, created, updated in rows:
        begins = local_start(settings, day, start)
        made = (updated or created).replace(tzinfo=UTC)
        if now < begins <= now + ahead and made < begins - ahead:
            due.append((bid, revision))
    if not due:
        return 0
    sent = set(s.execute(select(Mail.booking_id, Mail.revision).where(
        Mail.kind == "reminder", Mail.booking_id.in_([b for b, _ in due]))).all())
    fresh = [(b, r) for b, r in due if (b, r) not in sent]
    for bid, revision in fresh:
        queue(s, bid, "reminder", revision)
    return len(fresh)


def _reset(s: Session, m: Mail, settings: Settings, now: datetime) -> tuple[EmailMessage | None,
                                                                            str]:
    """A reset's mail, its link signed now (its hour starts when it is sent)."""
    user = s.get(User, m.user_id) if m.user_id else None
    if user is None or user.disabled_at is not None:
        return None, "no such person"
    token = auth.make_reset(settings.secret_key, user.id, user.password_hash)
    link = f"{settings.site_url.rstrip('/')}/reset/{token}"
    return reset_message(settings, name=user.name, to=user.email, link=link,
                         message_id=m.message_id, now=now, locale=user.locale or ""), ""


def _told(s: Session, m: Mail) -> tuple[Told | None, str]:
    """What the mail tells, as the booking is now; None and why when a later
    change made it stale."""
    if m.booking_id is None:
        return None, "no booking"
    b = s.get(Booking, m.booking_id)
    if b is None:
        return None, "no such booking"
    if m.kind in STALE and (b.status != "confirmed" or m.revision < b.revision):
        return None, "superseded by a later change"
    user, room = s.get(User, b.user_id), s.get(Room, b.room_id)
    if user is None or room is None:
        return None, "no such person or room"
    other = b.cancelled_by if m.kind == "cancelled" else b.booked_by
    by = s.get(User, other) if other and other != b.user_id else None
    return Told(m.kind, m.message_id, b.id, m.revision, b.title, room.name, b.day,
                b.start_slot, b.end_slot, user.name, user.email,
                by.name if by else "",
                (b.cancel_reason or "") if m.kind == "cancelled" else "",
                locale=user.locale or ""), ""


class Sender:
    """Sends the outbox; one per worker, acting only on a writable database."""

    def __init__(self, maker: sessionmaker[Session], engine: Engine, settings: Settings,
                 connect: Callable[[], smtplib.SMTP] | None = None) -> None:
        self.maker, self.engine, self.settings = maker, engine, settings
        self.connect = connect or (lambda: smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                                                        timeout=10))
        self.backlog = False  # the last round found a whole batch: more may be waiting
        # Set when the worker stops (stop_with): the round ends after the mail
        # in flight, sent and marked, and claims nothing more.
        self.stopping = threading.Event()

    def _open(self, now: datetime) -> list[int]:
        """The mails to send (a batch), oldest first: not sent, and not
        claimed, or claimed longer than CLAIM_S ago."""
        with self.maker.begin() as s:
            return list(s.scalars(select(Mail.id).where(_open(now)).order_by(Mail.id)
                                  .limit(BATCH)))

    def _claim(self, mid: int, now: datetime) -> bool:
        """This mail is this sender's to send: a claim only one can win,
        committed (replicated) before the SMTP conversation. One at a time,
        right before its own send: when the database stops taking writes (a
        failover), the rest of the batch is unclaimed, and the new primary's
        senders send it at once rather than after CLAIM_S."""
        def claim() -> bool:
            with self.maker.begin() as s:
                return s.execute(update(Mail).where(Mail.id == mid, _open(now))
                                 .values(claimed_at=now, tries=Mail.tries + 1)).rowcount == 1
        return again(claim)

    def once(self, now: datetime | None = None) -> int:
        """One round: reminders queued, mails claimed and sent; how many sent.
        A database that stops taking writes ends the round (DBAPIError)."""
        if not db.writable(self.engine):
            return 0  # a replica: the primary's senders send
        now = now or datetime.now(UTC)
        naive = now.replace(tzinfo=None)
        with self.maker.begin() as s:
            remind(s, self.settings, now)
        sent = 0
        smtp: smtplib.SMTP | None = None
        batch = self._open(naive)
        self.backlog = len(batch) == BATCH
        try:
            for mid in batch:
                if self.stopping.is_set():
                    break
                if not self._claim(mid, naive):
                    continue  # another sender's
                with self.maker() as s:
                    msg, why = self._message(s, s.get(Mail, mid), now)
                if msg is None:
                    self._mark(mid, naive, why)
                    continue
                try:
                    smtp = smtp or self.connect()
                    smtp.send_message(msg)
                except (OSError, smtplib.SMTPException) as exc:
                    # Left claimed: tried again after CLAIM_S.
                    self._failed(mid, f"{type(exc).__name__}: {exc}"[:300])
                    log.warning("mail %s (%s) not sent: %s", mid, msg["Subject"], exc)
                    smtp = None
                    continue
                self._mark(mid, naive, "")
                sent += 1
        finally:
            if smtp is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    smtp.quit()
        return sent

    def _message(self, s: Session, m: Mail | None, now: datetime
                 ) -> tuple[EmailMessage | None, str]:
        if m is None:
            return None, "gone"
        if m.kind == "reset":
            return _reset(s, m, self.settings, now)
        told, why = _told(s, m)
        if told is None:
            return None, why
        if told.kind == "reminder" and self.settings.site_url:
            b = s.get(Booking, told.booking_id)
            found = rules_db.current(self.maker, self.settings)
            if b is not None and rules.checkin_window(found, self.settings, b.day,
                                                      b.start_slot, b.created_at):
                token = auth.make_checkin(self.settings.secret_key, b.id)
                told = replace(told, checkin_link=f"{self.settings.site_url.rstrip('/')}"
                                                  f"/checkin/{token}")
        return message(self.settings, told, now), ""

    def _mark(self, mid: int, now: datetime, note: str) -> None:
        """Sent (or why not), tried again on a deadlock: InnoDB picks these
        small transactions as its victims beside the bookings' (the
        application's log in the mail-failover drill: a deadlock in the
        outbox's rounds every few seconds), and a mark lost to one was a mail
        sent again after CLAIM_S (14 twice in one run, spread over all of it)."""
        self._set(mid, sent_at=now, last_error=note)

    def _failed(self, mid: int, error: str) -> None:
        self._set(mid, last_error=error)

    def _set(self, mid: int, **values: object) -> None:
        def set_() -> None:
            with self.maker.begin() as s:
                s.execute(update(Mail).where(Mail.id == mid).values(**values))
        again(set_)

    def run(self, stop: threading.Event) -> None:
        """Rounds every POLL_S, one after the other while a round finds a
        whole batch (a busy hour's mail goes out at the SMTP server's pace,
        not BATCH per POLL_S)."""
        self.stopping = stop
        while not stop.wait(0 if self.backlog else POLL_S):
            self.backlog = False
            try:
                self.once()
            except DBAPIError as exc:  # a failover: the next round asks again
                log.warning("the outbox's round ended: %s",
                            str(exc.orig or exc).splitlines()[0][:200])
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("the outbox's round failed")


#: How long a stopping worker waits for its sender's mail in flight (one mail takes
#: milliseconds; a stop must not wait on an SMTP server that does not answer).
STOP_WAIT_S = 2.0


def start(maker: sessionmaker[Session], engine: Engine, settings: Settings) -> Sender:
    """This worker's sender, in a thread of its own, stopped with the worker
    (at its interpreter's exit, after gunicorn's graceful stop): the mail in
    flight is sent and marked first. A daemon thread alone was cut anywhere,
    between the server's OK and the mark too, and every application restart
    (a roll, a reboot) sent those mails again after CLAIM_S."""
    sender = Sender(maker, engine, settings)
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), name="outbox", daemon=True)
    thread.start()
    atexit.register(stop_with, stop, thread)
    return sender


def stop_with(stop: threading.Event, thread: threading.Thread,
              wait_s: float = STOP_WAIT_S) -> None:
    stop.set()
    thread.join(wait_s)
