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
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from roombook import auth
from roombook.models import LoginFailure, User, active

FREE = 5  # one account's failures from one address
FREE_SOURCE = 20  # one address's failures over every account (an office behind NAT)
MAX_WAIT_S = 60.0


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


def must_wait(maker: sessionmaker[Session], k: Keys, now: datetime) -> float:
    with maker() as s:
        rows = [(s.get(LoginFailure, k.account), FREE), (s.get(LoginFailure, k.address),
                                                          FREE_SOURCE)]
    return max((wait_s(r.failures, (now - r.last_at).total_seconds(), free)
                for r, free in rows if r is not None), default=0.0)


def count(maker: sessionmaker[Session], k: Keys, now: datetime) -> bool:
    """Count one try; False when the database cannot (read-only, gone)."""
    try:
        with maker.begin() as s:
            for key in k.both:
                row = s.get(LoginFailure, key, with_for_update=True)
                if row is None:
                    s.add(LoginFailure(key=key, failures=1, last_at=now))
                else:
                    row.failures, row.last_at = row.failures + 1, now
    except DBAPIError:
        return False
    return True


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
    if not count(maker, k, now):
        return Attempt(None, unavailable=True)
    with maker() as s:
        user = active(s.scalar(select(User).where(User.email == email)))
    if not auth.check_password(user.password_hash if user else None, password):
        return Attempt(None)
    take_back(maker, k)
    return Attempt(user)
