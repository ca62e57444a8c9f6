"""How an alert's webhook body is signed: the agent signs it with the
secrets' webhook_secret, a receiver (the lab's alert sink, the operator's
own) checks it. HMAC-SHA256 over the body, as GitHub's webhooks do."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
