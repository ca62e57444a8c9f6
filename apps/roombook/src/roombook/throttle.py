"""Sign-in throttling, per source address and per account from that address:
after FREE failures in a row of one account from one address (FREE_SOURCE
from one address whatever the accounts), each further try from there waits
twice as long as the last (1, 2, 4 ... s), at most MAX_WAIT_S, before its
password is even checked (an argon2 hash costs CPU).

Nothing is counted per account alone: a lock on the account for everyone
would let anybody keep any chosen account (an administrator's) shut with
one failure a minute. A person signing in from an address that has not
failed signs in at once, whatever is tried against the account elsewhere.

Each try is counted before its password is checked, and a success takes its
count back. A database that cannot count (a read-only replica) checks no
password: the sign-in is refused as unavailable whether the password was
right or wrong, so no copy of the service answers guesses uncounted, nor
tells a right password from a wrong one. The counts live in the database,
so every worker and both nodes share them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from flask import Request
from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from roombook import auth
from roombook.models import LoginFailure, User, active

FREE = 5  # one account's failures from one address
FREE_SOURCE = 20  # one address's failures over every account (an office behind NAT)
MAX_WAIT_S = 60.0
DEADLOCK = 1213  # MariaDB's ER_LOCK_DEADLOCK
ADMIT_TRIES = 5  # a deadlock's victim tries again, this many times in all


def wait_s(failures: int, since_last_s: float, free: int = FREE) -> float:
    """How long the next try must still wait (pure)."""
    if failures < free:
        return 0.0
    return max(0.0, min(MAX_WAIT_S, 2.0 ** (failures - free)) - since_last_s)


def source(request: Request) -> str:
    """The client's address. Behind a proxy on this host (Apache), the one
    the proxy appended last."""
    addr = request.remote_addr or ""
    try:
        if ipaddress.ip_address(addr).is_loopback and request.access_route:
            addr = request.access_route[-1]
    except ValueError:
        pass
    return addr


@dataclass(frozen=True)
class Keys:
    account: str  # this account from this address
    address: str  # this address, every account

    @property
    def both(self) -> tuple[str, str]:
        return self.account, self.address


def keys(email: str, request: Request) -> Keys:
    addr = source(request)[:100]
    return Keys(f"user:{email[:190]}|{addr}", f"addr:{addr}")


def _wait_of(rows: list[tuple[LoginFailure | None, int]], now: datetime) -> float:
    return max((wait_s(r.failures, (now - r.last_at).total_seconds(), free)
                for r, free in rows if r is not None), default=0.0)


def admit(maker: sessionmaker[Session], k: Keys, now: datetime) -> float | None:
    """Count one try if it need not wait, in one transaction with both rows
    locked: how long it must still wait (0.0: counted, check the password),
    or None when the database cannot count (read-only, gone).

    Judged and counted together: judged first and counted after, forty tries
    arriving at once all passed the judgement before any was counted, and
    forty password hashes at once stopped every booking for 2.4 s (the
    login-flood drill)."""
    try:
        for key in k.both:
            _ensure(maker, key, now)
    except DBAPIError:
        return None
    for _ in range(ADMIT_TRIES):
        try:
            return _admit_once(maker, k, now)
        except DBAPIError as exc:
            # Rows made first (_ensure), the locks are on rows, taken in one
            # order; a deadlock's victim all the same tries again.
            if getattr(exc.orig, "args", (None,))[:1] != (DEADLOCK,):
                return None
    return None


def _ensure(maker: sessionmaker[Session], key: str, now: datetime) -> None:
    """The count's row made (with no failures) before it is locked: locking
    a row that does not exist locks the gap where it would go, forty first
    tries' gap locks deadlock each other, and most were refused (503)."""
    with maker() as s:
        if s.get(LoginFailure, key) is not None:
            return
    try:
        with maker.begin() as s:
            s.add(LoginFailure(key=key, failures=0, last_at=now))
    except IntegrityError:
        pass  # made meanwhile by another try


def _admit_once(maker: sessionmaker[Session], k: Keys, now: datetime) -> float:
    with maker.begin() as s:
        rows = [(s.get(LoginFailure, k.account, with_for_update=True), FREE),
                (s.get(LoginFailure, k.address, with_for_update=True), FREE_SOURCE)]
        wait = _wait_of(rows, now)
        if wait > 0:
            return wait
        for key, (row, _) in zip(k.both, rows, strict=True):
            if row is None:
                s.add(LoginFailure(key=key, failures=1, last_at=now))
            else:
                row.failures, row.last_at = row.failures + 1, now
    return 0.0


def must_wait(maker: sessionmaker[Session], k: Keys, now: datetime) -> float:
    """The same judgement without locks or writes (a throttled source's
    tries cost two reads, and none waits for a lock)."""
    with maker() as s:
        rows = [(s.get(LoginFailure, k.account), FREE), (s.get(LoginFailure, k.address),
                                                          FREE_SOURCE)]
    return _wait_of(rows, now)


def take_back(maker: sessionmaker[Session], k: Keys) -> None:
    """A success: the account's count from this address cleared, the try
    taken back from the address's."""
    try:
        with maker.begin() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.key == k.account))
            row = s.get(LoginFailure, k.address, with_for_update=True)
            if row is not None:
                row.failures = max(0, row.failures - 1)
    except DBAPIError:
        pass


@dataclass(frozen=True)
class Attempt:
    user: User | None  # signed in, or None
    wait_s: float = 0.0  # > 0: refused unchecked, try again after this long
    unavailable: bool = False  # refused unchecked: this copy cannot count tries


def attempt(maker: sessionmaker[Session], email: str, password: str, request: Request,
            now: datetime) -> Attempt:
    """One sign-in, web or API: throttled, counted, then checked."""
    k = keys(email, request)
    wait = must_wait(maker, k, now)
    if wait > 0:
        return Attempt(None, wait)
    wait_now = admit(maker, k, now)
    if wait_now is None:
        return Attempt(None, unavailable=True)
    if wait_now > 0:
        return Attempt(None, wait_now)
    with maker() as s:
        user = active(s.scalar(select(User).where(User.email == email)))
    try:
        right = auth.check_password(user.password_hash if user else None, password)
    except auth.Busy:
        return Attempt(None, unavailable=True)  # counted: a guess all the same
    if not right:
        return Attempt(None)
    take_back(maker, k)
    if user is not None and auth.needs_rehash(user.password_hash):
        _rehash(maker, user.id, password)
    return Attempt(user)


def _rehash(maker: sessionmaker[Session], uid: int, password: str) -> None:
    """A right password whose hash has older settings: hashed again with
    today's (only a sign-in knows the password)."""
    try:
        with maker.begin() as s:
            row = s.get(User, uid)
            if row is not None:
                row.password_hash = auth.hash_password(password)
    except DBAPIError:
        pass  # kept as it was; the next sign-in tries again
