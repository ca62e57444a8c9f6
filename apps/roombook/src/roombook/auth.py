"""Passwords (argon2id), API tokens (signed with the shared secret, so they
stay valid on whichever node answers), and who is asking."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

_hasher = PasswordHasher()
# A hash to verify against when the email is unknown: the same work either way.
_DUMMY = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
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


def still_valid(made: datetime, revoked_before: datetime | None) -> bool:
    """A token or session made at `made` outlives a sign-out at
    `revoked_before` only if made in that second or later (tokens carry whole
    seconds)."""
    return revoked_before is None or made >= revoked_before.replace(microsecond=0)


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def valid_email(email: str) -> bool:
    return len(email) <= 254 and EMAIL.match(email) is not None
