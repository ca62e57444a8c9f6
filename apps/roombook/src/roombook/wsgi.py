"""The WSGI entry point: gunicorn roombook.wsgi:app (settings from ROOMBOOK_*).

It does not migrate: in a cluster the schema is upgraded once, on the primary
(`roombook db upgrade`), not by every worker of every node. Each worker warms
itself before it serves (db.warm): a node that has just started and takes
over at once answered its first bookings in 0.5-1 s otherwise."""

from __future__ import annotations

from roombook.app import create_app
from roombook.context import state
from roombook.db import warm

app = create_app()
with app.app_context():
    warm(state().engine, state().maker)
