"""Passwords (argon2id), API tokens (signed with the shared secret, so they
stay valid on whichever node answers), and who is asking."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

# OWASP's argon2id setting (19 MiB, 2 passes, one lane): about 20 ms of one
# core a check here. argon2-cffi's default (64 MiB, 3 passes, four lanes)
# took 170 ms of CPU over every core a node had, and ten wrong passwords at
# once held a booking back 1.2 s (the login-flood drill). Hashes made with
# other settings still verify, and are made again at the next sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# A hash to verify against when the email is unknown: the same work either way.
_DUMMY = _hasher.hash("not a password of anyone")
CHECK_WAIT_S = 10.0  # a check waits this long for its turn, then is refused as busy
_GATE = os.path.join(tempfile.gettempdir(), "roombook-password-check.lock")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class Busy(Exception):
    """No turn to check a password came within CHECK_WAIT_S."""


@contextmanager
def one_check_at_a_time(path: str, wait_s: float) -> Iterator[None]:
    """One password check at a time on this host, across every worker
    process and thread (a lock on a file: each opening is its own lock), so
    a burst of guesses costs one core, and bookings keep the others."""
    deadline = time.monotonic() + wait_s
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Busy from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def check_password(stored: str | None, password: str) -> bool:
    """Whether the password is right, one check at a time on this host
    (Busy when no turn came)."""
    with one_check_at_a_time(_GATE, CHECK_WAIT_S):
        try:
            return _hasher.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with other settings than today's."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False


def _signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="roombook-api-token")


def make_token(secret: str, user_id: int) -> str:
    return _signer(secret).dumps({"uid": user_id})


def read_token(secret: str, token: str, max_age_s: int) -> tuple[int, datetime] | None:
    """The user id a token names, and when it was made (naive UTC, whole
    seconds); None for a forged, damaged or expired token."""
    try:
        data, made = _signer(secret).loads(token, max_age=max_age_s, return_timestamp=True)
    except BadSignature:
        return None
    uid = data.get("uid") if isinstance(data, dict) else None
    if not isinstance(uid, int):
        return None
    return uid, made.astimezone(UTC).replace(tzinfo=None)


RESET_S = 3600  # a password reset's link is good for an hour


def _reset_signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="roombook-password-reset")


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def make_reset(secret: str, user_id: int, password_hash: str) -> str:
    """A password reset's token: the person, and a fingerprint of the
    password it replaces, so that it works once (a new password, or any
    change of it, ends it) and for RESET_S (its signature's age)."""
    return _reset_signer(secret).dumps({"uid": user_id, "pw": _fingerprint(password_hash)})


def read_reset(secret: str, token: str) -> tuple[int, str] | None:
    """(user id, fingerprint) of a reset token still young enough; None for
    a forged, damaged or expired one. The caller compares the fingerprint."""
    try:
        data = _reset_signer(secret).loads(token, max_age=RESET_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("uid"), int) \
            or not isinstance(data.get("pw"), str):
        return None
    return data["uid"], data["pw"]


def reset_fits(password_hash: str, fingerprint: str) -> bool:
    return hmac.compare_digest(_fingerprint(password_hash), fingerprint)


CHECKIN_LINK_S = 2 * 86400  # a reminder's check-in link, longer than any window


def _checkin_signer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="roombook-checkin")


def make_checkin(secret: str, booking_id: int) -> str:
    """A link's token that checks one booking in, for its booker, from a
    mail (the check-in's own window still applies)."""
    return _checkin_signer(secret).dumps({"b": booking_id})


def read_checkin(secret: str, token: str) -> int | None:
    try:
        data = _checkin_signer(secret).loads(token, max_age=CHECKIN_LINK_S)
    except BadSignature:
        return None
    b = data.get("b") if isinstance(data, dict) else None
    return b if isinstance(b, int) else None


def still_valid(made: datetime, revoked_before: datetime | None) -> bool:
    """A token or session made at `made` outlives a sign-out at
    `revoked_before` only if made in that second or later (tokens carry whole
    seconds)."""
    return revoked_before is None or made >= revoked_before.replace(microsecond=0)


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def valid_email(email: str) -> bool:
    return len(email) <= 254 and EMAIL.match(email) is not None
