"""Passwords (argon2id), API tokens (signed with the shared secret, so they
stay valid on whichever node answers), and who is asking."""

from __future__ import annotations

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


def read_token(secret: str, token: str, max_age_s: int) -> int | None:
    try:
        data = _signer(secret).loads(token, max_age=max_age_s)
    except BadSignature:
        return None
    uid = data.get("uid") if isinstance(data, dict) else None
    return uid if isinstance(uid, int) else None
