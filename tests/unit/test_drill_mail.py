"""mail-failover's parts that need no lab: the outbox's rows read, the
count of what reached the server, the spec with mail on, and the mail
server itself (a real aiosmtpd on loopback)."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import tomlkit

from hapair.drill.mail import Row, account, mail_spec, parse_outbox, parse_received, summary
from tests.support.servers import free_port

# The mariadb client's batch answer to OUTBOX_SQL (-N -B): a mail sent, one
# skipped as stale (sent_at set, with why), one unsent after a failed try.
CAPTURED = (
    "41\t<roombook.7.confirmed.0.a1@roombook.test>\t1\t\n"
    "42\t<roombook.8.confirmed.0.b2@roombook.test>\t1\tstale\n"
    "43\t<roombook.9.confirmed.0.c3@roombook.test>\t0\tConnectionRefusedError: [Errno 111]\n")


def test_the_outbox_rows_are_read_from_the_clients_answer() -> None:
    rows = parse_outbox(CAPTURED + "garbage\n")
    assert [r.id for r in rows] == [41, 42, 43]
    assert rows[0] == Row(41, "<roombook.7.confirmed.0.a1@roombook.test>", True, "")
    assert rows[1].sent and rows[1].note == "stale" and not rows[2].sent


CUT = 1000.0  # when the power was cut


def at(*mids: str, start: float = CUT - 1) -> list[tuple[float, str]]:
    """The server's arrivals, 0.1 s apart from start."""
    return [(start + i / 10, mid) for i, mid in enumerate(mids)]


def test_every_mail_owed_must_arrive_and_a_second_copy_is_the_same_mail() -> None:
    rows = [Row(1, "<a>", True, ""), Row(2, "<b>", True, ""), Row(3, "<stale>", True, "stale"),
            Row(4, "<c>", False, "refused"), Row(5, "<later>", False, "")]
    # <b> came at the cut (0.9 s before it) and again after CLAIM_S
    count = account(rows, at("<a>", "<b>", "<c>") + [(CUT + 120, "<b>")], 4, CUT)
    assert (count.owed, count.delivered, count.lost, count.twice) == (3, 3, (), ("<b>",))
    assert count.first_at == (-0.9,) and count.away == ()
    assert count.safe and "1 twice with the same Message-ID (<b>) [first copies -0.90 to " \
        "-0.90 s from the cut; 0 away from it]" in summary(count)
    short = account(rows, at("<a>", "<ghost>"), 4, CUT)
    # <b> was marked sent and never came: lost; <c> was never sent: late
    assert (short.lost, short.late, short.unknown) == (("<b>",), ("<c>",), ("<ghost>",))
    assert not short.safe and "1 lost (<b>), 1 still unsent after" in summary(short)
    assert not account(rows, at("<a>", "<b>"), 4, CUT).safe  # late alone fails a run


def test_a_mail_twice_away_from_the_cut_fails_the_run() -> None:
    """Only the mail in flight at the cut may come twice; one whose first
    copy came a minute before lost its mark otherwise (a deadlock did)."""
    rows = [Row(1, "<a>", True, ""), Row(2, "<b>", True, "")]
    early = account(rows, at("<a>", "<b>", start=CUT - 60) + at("<a>", start=CUT + 60), 2, CUT)
    assert early.twice == ("<a>",) and early.away == ("<a>",) and not early.safe
    assert "1 away from it (<a>)" in summary(early)
    just_after = account(rows, at("<a>", "<b>", start=CUT + 0.5) + at("<b>", start=CUT + 119),
                         2, CUT)  # its 250 read as the power went
    assert just_after.safe and just_after.first_at == (0.6,)
    assert parse_received("1796594778.875 <x@y>") == (1796594778.875, "<x@y>")


def test_the_mail_settings_join_the_spec_and_keep_its_words() -> None:
    original = '# the lab\nname = "lab"\n\n[web.env]\nROOMBOOK_SECRET_KEY = "{secret_key}"\n'
    doc = tomlkit.parse(mail_spec(original, "10.54.0.254"))
    env = doc["web"]["env"]  # type: ignore[index]
    assert env["ROOMBOOK_SMTP_HOST"] == "10.54.0.254" and env["ROOMBOOK_SMTP_PORT"] == "2525"
    assert env["ROOMBOOK_SECRET_KEY"] == "{secret_key}" and env["ROOMBOOK_REMIND_MINUTES"] == "0"
    assert mail_spec(original, "x").startswith("# the lab\n")
    bare = tomlkit.parse(mail_spec('name = "lab"\n', "10.0.0.9"))
    assert bare["web"]["env"]["ROOMBOOK_SMTP_HOST"] == "10.0.0.9"  # type: ignore[index]


def test_the_mail_server_writes_each_message_id_as_it_arrives(tmp_path: Path) -> None:
    out, port = tmp_path / "received", free_port()
    sink = subprocess.Popen([sys.executable, "-m", "hapair.drill.mailsink", "--listen",
                             "127.0.0.1", "--port", str(port), "--out", str(out)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None and sink.stdout.readline().strip() == "listening"
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            for mid in ("<one@x>", "<two@x>", "<one@x>"):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "a@x", "b@x", "booked"
                msg["Message-ID"] = mid
                msg.set_content("text")
                smtp.send_message(msg)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(out.read_text().splitlines()) < 3:
            time.sleep(0.05)
        lines = [line.split(" ", 1) for line in out.read_text().splitlines()]
        assert [mid for _, mid in lines] == ["<one@x>", "<two@x>", "<one@x>"]
        assert all(abs(float(at) - time.time()) < 60 for at, _ in lines)  # when each came
    finally:
        sink.communicate(timeout=10)
    assert sink.returncode == 0
