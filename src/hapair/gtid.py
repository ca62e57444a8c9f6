"""MariaDB GTID positions: "domain-server-seq" per replication domain,
comma separated ("0-1-42,1-2-7"). Pure comparisons for the controller."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Gtid:
    domain: int
    server: int
    seq: int

    def __str__(self) -> str:
        return f"{self.domain}-{self.server}-{self.seq}"


def parse(position: str) -> dict[int, Gtid]:
    """One GTID per domain; an empty position is an empty dict. Raises
    ValueError on text that is not a GTID position."""
    out: dict[int, Gtid] = {}
    for part in position.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        pieces = part.split("-")
        if len(pieces) != 3 or not all(p.isdigit() for p in pieces):
            raise ValueError(f"not a GTID: {part!r}")
        g = Gtid(*(int(p) for p in pieces))
        out[g.domain] = g
    return out


def contains(have: str, want: str) -> bool:
    """True when position ``have`` has reached every domain of ``want``
    (sequence numbers only: a position does not say whose they are)."""
    h = parse(have)
    return all(d in h and h[d].seq >= g.seq for d, g in parse(want).items())


def received_all(have: str, want: str) -> bool:
    """True when a replica that reports ``have`` holds every transaction of
    position ``want``: in each domain of ``want`` it has the same server's
    GTID at the same or a later sequence number. Stricter than ``contains``:
    a higher number written by another server may be another history."""
    h = parse(have)
    return all(d in h and h[d].server == g.server and h[d].seq >= g.seq
               for d, g in parse(want).items())


def errant(local: str, primary: str, primary_server: int = 0) -> list[str]:
    """GTIDs of ``local`` that the primary cannot have: a sequence number
    beyond the primary's in some domain, or the same number written by
    another server. Empty when ``local`` may simply be behind.

    ``primary_server``: the primary's server id. A GTID it wrote itself,
    beyond the position it reported, is newer than the report (under load the
    report is a poll old while this node's own position is read now), not
    errant; should the primary truly lack it (it crashed before the
    acknowledgement and truncated it), MariaDB refuses the connection
    (error 1236) and the replica is rebuilt from that."""
    p = parse(primary)
    out = []
    for d, g in parse(local).items():
        theirs = p.get(d)
        if theirs is not None and g.seq > theirs.seq and g.server == primary_server:
            continue
        if theirs is None or g.seq > theirs.seq or (g.seq == theirs.seq and g != theirs):
            out.append(str(g))
    return out


def behind(local: str, primary: str) -> int:
    """Transactions ``local`` lacks of ``primary`` (sum over domains)."""
    h = parse(local)
    return sum(max(0, g.seq - (h[d].seq if d in h else 0)) for d, g in parse(primary).items())
