"""The WSGI entry point: gunicorn roombook.wsgi:app (settings from ROOMBOOK_*).

It does not migrate: in a cluster the schema is upgraded once, on the primary
(`roombook db upgrade`), not by every worker of every node."""

from __future__ import annotations

from roombook.app import create_app

app = create_app()
