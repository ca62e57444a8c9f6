"""Fuzz the JSON API from its own OpenAPI document, with inputs that fit it
and inputs that break it (negative mode): no input may cause a 500."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.roombook.conftest import make_app, token_for

# The schema is read at import, so the application it drives is made here too
# (schemathesis' fixture loader does not run under this pytest).
_TMP = Path(tempfile.mkdtemp(prefix="roombook-fuzz-"))
APP = make_app(f"sqlite:///{_TMP / 'rb.db'}", _TMP)
TOKEN = token_for(APP.test_client())
# Signing out would end the token every other case uses: tested on its own.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", APP).exclude(path="/api/logout")
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_input_causes_a_server_error(case: schemathesis.Case) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if case.headers and "Idempotency-Key" in case.headers:
        headers["Idempotency-Key"] = str(case.headers["Idempotency-Key"])
    case.call_and_validate(headers=headers, checks=[not_a_server_error])
