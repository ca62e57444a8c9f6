"""A placeholder WSGI application until roombook proper lands: it answers
which node served the request, and /healthz."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    node = os.environ.get("HAPAIR_NODE", "unknown")
    if environ.get("PATH_INFO") == "/healthz":
        body = b"ok\n"
    else:
        body = f"roombook on {node}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
