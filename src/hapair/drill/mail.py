"""mail-failover: the site sends mail (roombook's outbox, to a real SMTP
server on the lab's client network, drill/mailsink.py), and the primary's
power is cut while its senders send. Every mail the outbox holds must reach
the server; one sent twice must be the same mail (its Message-ID) and the
one in flight at the cut (its first copy came then); none may tell of a
booking the cluster does not hold.

The mail settings are applied to the live cluster for the run (a rolling
apply of an environment change, as apply-app-env) and taken away after it.
Counting waits for the mails in flight at the cut: roombook takes over a
claim never marked sent after its CLAIM_S (120 s)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from hapair.drill.changes import lab_apply, table
from hapair.drill.scenario import Ctx
from hapair.drill.target import CheckFailed, DrillError, mariadb, settle
from hapair.lab import faults
from hapair.lab.lifecycle import files_of
from hapair.lab.plan import client_address
from hapair.lab.sh import in_netns

SMTP_PORT = 2525
MAIL_FROM = "rooms@roombook.test"
#: How long the mails queued before the count may take to leave: roombook's
#: CLAIM_S (120 s) for a claim the cut left, and the backlog the load left (on
#: the pair 5,902 mails were owed at the count, 154 still unsent after 180 s).
DRAIN_S = 420.0
#: Mails the senders send before the cut: the cut falls in the middle of sending.
BEFORE_CUT = 20
#: A mail may come twice only if its first copy came at the cut (within these
#: seconds before it, or just after): the mail in flight between the server's
#: 250 and its mark's commit. On the pair, 5 runs: 0.0-0.1 s before. One that
#: came twice away from the cut lost its mark otherwise (last round's
#: deadlocks did, all through the run): a fault of the outbox.
AT_CUT_S = (2.0, 1.0)
OUTBOX_SQL = ("SELECT id, message_id, sent_at IS NOT NULL, last_error FROM outbox "
              "WHERE id > {first} ORDER BY id")
UNSENT_SQL = "SELECT COUNT(*) FROM outbox WHERE id > {first} AND id <= {cutoff} AND sent_at IS NULL"


@dataclass(frozen=True)
class Row:
    id: int
    message_id: str
    sent: bool
    note: str  # why it was not sent ("" sent); a failed try's error while unsent


def parse_outbox(text: str) -> list[Row]:
    """OUTBOX_SQL's answer (mariadb -N -B) as rows (pure)."""
    rows = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0].isdigit():
            rows.append(Row(int(parts[0]), parts[1], parts[2] == "1",
                            parts[3] if len(parts) > 3 else ""))
    return rows


@dataclass(frozen=True)
class MailCount:
    owed: int  # mails the outbox owed up to the count's cut-off (skipped stale ones left out)
    delivered: int  # of them, received at least once
    lost: tuple[str, ...]  # marked sent, never received
    late: tuple[str, ...]  # owed, still unsent when the count gave up waiting (DRAIN_S)
    twice: tuple[str, ...]  # received more than once: the same mail again
    unknown: tuple[str, ...]  # received, in no outbox row: a mail of a booking not held
    # when each of the twice's first copy came, in seconds from the cut (- before it)
    first_at: tuple[float, ...] = ()

    @property
    def away(self) -> tuple[str, ...]:
        """Of the twice, those whose first copy came away from the cut (AT_CUT_S)."""
        before, after = AT_CUT_S
        return tuple(mid for mid, at in zip(self.twice, self.first_at, strict=True)
                     if not -before <= at <= after)

    @property
    def safe(self) -> bool:
        return not self.lost and not self.late and not self.unknown and not self.away


def account(rows: list[Row], received: list[tuple[float, str]], cutoff: int,
            cut_at: float) -> MailCount:
    """What reached the server of what the outbox owed (pure). rows: every
    row of the run; received: (when, Message-ID) as the server took them;
    cutoff: the last row the count waits for; cut_at: when the power was cut."""
    seen: dict[str, int] = {}
    first: dict[str, float] = {}
    for at, mid in received:
        seen[mid] = seen.get(mid, 0) + 1
        first.setdefault(mid, at)
    owed = [r for r in rows if r.id <= cutoff and not (r.sent and r.note)]
    missing = [r for r in owed if r.message_id not in seen]
    known = {r.message_id for r in rows}
    twice = tuple(sorted(mid for mid, n in seen.items() if n > 1))
    return MailCount(len(owed), len(owed) - len(missing),
                     tuple(r.message_id for r in missing if r.sent),
                     tuple(r.message_id for r in missing if not r.sent),
                     twice,
                     tuple(sorted(mid for mid in seen if mid not in known)),
                     tuple(round(first[mid] - cut_at, 2) for mid in twice))


def parse_received(line: str) -> tuple[float, str]:
    """One line of the server's file (drill/mailsink.py): "when Message-ID"."""
    at, _, mid = line.partition(" ")
    return float(at), mid


def _first(ids: tuple[str, ...]) -> str:
    return f" ({ids[0]})" if ids else ""


def summary(c: MailCount) -> str:
    return (f"mail: {c.delivered:,} of {c.owed:,} owed delivered, {len(c.lost)} lost"
            f"{_first(c.lost)}, {len(c.late)} still unsent after {DRAIN_S:.0f}s"
            f"{_first(c.late)}, {len(c.twice)} twice with the same Message-ID"
            f"{_first(c.twice)}{_when(c)}, {len(c.unknown)} of a booking not held"
            f"{_first(c.unknown)}")


def _when(c: MailCount) -> str:
    """Where the twice's first copies fell against the cut."""
    if not c.first_at:
        return ""
    span = f"{min(c.first_at):+.2f} to {max(c.first_at):+.2f} s from the cut"
    return f" [first copies {span}; {len(c.away)} away from it{_first(c.away)}]"


def mail_spec(original: str, smtp_host: str) -> str:
    """The spec's text with the site's mail settings (pure)."""
    doc = tomlkit.parse(original)
    env = table(doc, "web", "env")
    env["ROOMBOOK_SMTP_HOST"] = smtp_host
    env["ROOMBOOK_SMTP_PORT"] = str(SMTP_PORT)
    env["ROOMBOOK_MAIL_FROM"] = MAIL_FROM
    env["ROOMBOOK_REMIND_MINUTES"] = "0"  # a mail per booking made: nothing else
    return tomlkit.dumps(doc)


def writable(c: Ctx, wait_s: float = 60.0) -> str:
    """The node whose database takes writes now."""
    deadline = time.monotonic() + wait_s
    while True:
        for n in c.agents.spec.nodes:
            r = mariadb(c.lab, n.name, "SELECT @@read_only")
            if r.returncode == 0 and r.stdout.strip() == "0":
                return n.name
        if time.monotonic() > deadline:
            raise DrillError(f"no writable database within {wait_s:.0f}s")
        time.sleep(0.5)


def last_id(c: Ctx, node: str) -> int:
    r = mariadb(c.lab, node, "SELECT COALESCE(MAX(id), 0) FROM outbox")
    if r.returncode != 0:
        raise DrillError(f"cannot read {node}'s outbox: {r.stderr.strip()[-200:]}")
    return int(r.stdout.strip() or 0)


class MailFailover:
    """The sink started and the mail settings applied, mails flowing, the
    primary's power cut (fault); its power back, the mails counted once
    every one owed had its chance, the settings taken away (recover)."""

    def __init__(self) -> None:
        self.sink: subprocess.Popen[str] | None = None
        self.received = Path()
        self.first = 0
        self.cut = ""
        self.cut_at = 0.0

    def _received(self) -> list[tuple[float, str]]:
        """(when, Message-ID) of each mail the server took, in order."""
        if not self.received.exists():
            return []
        return [parse_received(line) for line in self.received.read_text().splitlines()
                if line]

    def fault(self, c: Ctx) -> object:
        address = str(client_address(c.agents.spec).ip)
        self.received = Path(tempfile.mkdtemp(prefix="hapair-mail-")) / "received"
        with self.received.with_name("server.log").open("w") as log:  # its errors, not a pipe
            self.sink = subprocess.Popen(
                in_netns(c.plan.client.name, [sys.executable, "-m", "hapair.drill.mailsink",
                                              "--listen", address, "--port", str(SMTP_PORT),
                                              "--out", str(self.received)]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.sink.stdout is not None
        if self.sink.stdout.readline().strip() != "listening":
            raise DrillError("the mail server did not start")
        try:
            self.first = last_id(c, c.node)
            spec = Path(c.spec)
            changed = spec.with_name(f".{spec.stem}.mail.toml")
            changed.write_text(mail_spec(spec.read_text(), address))
            try:
                rolled = lab_apply(changed)
            finally:
                changed.unlink(missing_ok=True)
            deadline = time.monotonic() + 60
            while len(self._received()) < BEFORE_CUT:
                if time.monotonic() > deadline:
                    raise DrillError(f"no mail reached the server within 60 s of the apply "
                                     f"({len(self._received())} did)")
                time.sleep(0.1)
        except BaseException:
            self._undo(c)  # no run after this one inherits the mail
            raise
        self.cut = writable(c)
        self.cut_at = time.time()
        faults.power_cut(c.plan, self.cut)
        return f"mail on ({rolled}); {self.cut}'s power cut after {len(self._received())} mails"

    def _undo(self, c: Ctx) -> None:
        """The site sends no mail again; the server stops."""
        try:
            lab_apply(Path(c.spec))
        finally:
            if self.sink is not None:
                self.sink.communicate(timeout=30)  # its standard input closed: it stops
                self.sink = None

    def recover(self, c: Ctx) -> object:
        try:
            faults.start(c.plan, self.cut, files_of(c.plan).key)
            primary = writable(c)
            cutoff = last_id(c, primary)
            # Every mail owed up to now has its chance: the claims the cut
            # left are taken over after CLAIM_S.
            unsent = UNSENT_SQL.format(first=self.first, cutoff=cutoff)  # two integers
            deadline = time.monotonic() + DRAIN_S
            while time.monotonic() < deadline:
                r = mariadb(c.lab, writable(c), unsent)
                if r.returncode == 0 and r.stdout.strip() == "0":
                    break
                time.sleep(1.0)
            time.sleep(1.0)  # the last mail's 250 is written before its mark
            r = mariadb(c.lab, writable(c), OUTBOX_SQL.format(first=self.first))
            if r.returncode != 0:
                raise DrillError(f"cannot read the outbox: {r.stderr.strip()[-200:]}")
            count = account(parse_outbox(r.stdout), self._received(), cutoff, self.cut_at)
        finally:
            # The apply that turns the mail off rolls: a roll needs the cut
            # node a complete replica again.
            settle(c.agents, 240, lambda _: None)
            self._undo(c)
        if not count.safe:
            raise CheckFailed(summary(count))
        return summary(count)


MAIL = MailFailover()
