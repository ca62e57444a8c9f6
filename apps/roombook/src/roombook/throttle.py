"""Sign-in throttling, per account and per address: after FREE failures in a
row, each further try waits twice as long as the last (1, 2, 4 ... s), at most
MAX_WAIT_S, before its password is even checked (an argon2 hash costs CPU).
A success clears the account's count; the wait is short enough that an
attacker cannot lock a real person out for long. The counts live in the
database, so every worker and both nodes share them."""

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

FREE = 5
MAX_WAIT_S = 60.0


def wait_s(failures: int, since_last_s: float) -> float:
    """How long the next try must still wait (pure)."""
    if failures < FREE:
        return 0.0
    return max(0.0, min(MAX_WAIT_S, 2.0 ** (failures - FREE)) - since_last_s)


def keys(email: str, request: Request) -> list[str]:
    """The account's key and the address's. Behind a proxy on this host
    (Apache), the address is the one the proxy appended last."""
    addr = request.remote_addr or ""
    try:
        if ipaddress.ip_address(addr).is_loopback and request.access_route:
            addr = request.access_route[-1]
    except ValueError:
        pass
    return [f"user:{email}"[:300], f"addr:{addr}"[:300]]


def must_wait(maker: sessionmaker[Session], names: list[str], now: datetime) -> float:
    with maker() as s:
        rows = [s.get(LoginFailure, k) for k in names]
    return max((wait_s(r.failures, (now - r.last_at).total_seconds()) for r in rows if r),
               default=0.0)


def failed(maker: sessionmaker[Session], names: list[str], now: datetime) -> None:
    """Count a failure (best effort: a read-only database counts nothing)."""
    try:
        with maker.begin() as s:
            for k in names:
                row = s.get(LoginFailure, k, with_for_update=True)
                if row is None:
                    s.add(LoginFailure(key=k, failures=1, last_at=now))
                else:
                    row.failures, row.last_at = row.failures + 1, now
    except DBAPIError:
        pass


def succeeded(maker: sessionmaker[Session], account: str) -> None:
    try:
        with maker.begin() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.key == account))
    except DBAPIError:
        pass


@dataclass(frozen=True)
class Attempt:
    user: User | None  # signed in, or None
    wait_s: float = 0.0  # > 0: refused unchecked, try again after this long


def attempt(maker: sessionmaker[Session], email: str, password: str, request: Request,
            now: datetime) -> Attempt:
    """One sign-in, web or API: throttled, then checked."""
    names = keys(email, request)
    wait = must_wait(maker, names, now)
    if wait > 0:
        return Attempt(None, wait)
    with maker() as s:
        user = active(s.scalar(select(User).where(User.email == email)))
    if not auth.check_password(user.password_hash if user else None, password):
        failed(maker, names, now)
        return Attempt(None)
    succeeded(maker, names[0])
    return Attempt(user)
