"""The Flask application: settings, database, blueprints, errors."""

from __future__ import annotations

import logging

from flask import Flask, Response, flash, g, redirect, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from roombook import db, i18n, outbox
from roombook.api import api
from roombook.booking import NotWritable
from roombook.config import Settings, from_env
from roombook.context import State, error, state, wants_json
from roombook.feeds import feeds
from roombook.grid import runs as grid_runs
from roombook.pages import form_return, longdate
from roombook.web import load_user, web
from roombook.web_account import account
from roombook.web_admin import admin
from roombook.web_cancel import cancels
from roombook.web_checkin import checkins
from roombook.web_edit import edits
from roombook.web_find import finder
from roombook.web_rules import rules_admin
from roombook.web_series import series_web

log = logging.getLogger("roombook")


def create_app(settings: Settings | None = None, *, migrate: bool = False) -> Flask:
    settings = settings or from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind TLS (ROOMBOOK_SECURE_COOKIES=1) the session never travels in clear.
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        # Forms stay valid across a failover: the token is signed with the
        # shared secret, not tied to one node's memory.
        WTF_CSRF_TIME_LIMIT=None,
    )
    engine = db.make_engine(settings.database_url)
    if migrate:
        db.upgrade(settings.database_url)
    maker = db.sessions(engine, settings.mail_from.rsplit("@", 1)[1] if settings.mail else "")
    app.extensions["roombook"] = State(settings, engine, maker)
    if settings.mail and settings.send_mail:
        # Each worker runs one; they share the outbox by claims, and only
        # the primary's send (outbox.py).
        outbox.start(maker, engine, settings)
    if settings.seed_sample_rooms:
        db.seed_rooms(app.extensions["roombook"].maker)

    csrf = CSRFProtect(app)
    csrf.exempt(api)  # bearer tokens, not cookies: no cross-site forgery
    app.register_blueprint(api)
    app.register_blueprint(web)
    app.register_blueprint(series_web)
    app.register_blueprint(feeds)
    app.register_blueprint(admin)
    app.register_blueprint(cancels)
    app.register_blueprint(checkins)
    app.register_blueprint(edits)
    app.register_blueprint(finder)
    app.register_blueprint(account)
    app.register_blueprint(rules_admin)
    i18n.init(app)
    app.add_template_filter(longdate, "longdate")
    app.add_template_filter(grid_runs, "runs")
    _health(app)
    _errors(app)
    _headers(app)
    return app


# Pages load only this site's own styles, scripts and images; no other site
# may frame them (clickjacking) or have them sniffed as another type.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _headers(app: Flask) -> None:
    @app.after_request
    def secure(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        return response


def _health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok\n", 200

    @app.get("/readyz")
    def readyz() -> tuple[str, int]:
        try:
            ok = db.writable(state().engine)
        except DBAPIError as exc:
            return f"database unreachable: {type(exc.orig).__name__}\n", 503
        return ("ready\n", 200) if ok else ("database is read-only\n", 503)


def _errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> object:
        """A form whose token is gone (a cleared cookie, a session that
        ended): back to its page with what was typed, to sign in or send
        again; never a dead end that loses the booking."""
        if request.method != "POST" or wants_json():
            return error(400, "csrf", "the form expired or was not sent from this site; "
                         "try again")
        if request.endpoint == "web.login_post":
            flash(gettext("The sign-in form expired; please sign in again."), "error")
            return redirect(url_for("web.login", next=request.args.get("next", "")), 303)
        if "user" not in g:  # the CSRF check ran before the user was looked up
            load_user()
        back = form_return()
        if g.user is None:
            flash(gettext("Your session ended: sign in again, and your form is kept."), "error")
            return redirect(url_for("web.login", next=back), 303)
        flash(gettext("The form expired: check it and send it again."), "error")
        return redirect(back, 303)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> object:
        code = exc.code or 500
        words = {413: "the upload is too large"}
        return error(code, (exc.name or "error").lower().replace(" ", "_"),
                     words.get(code, exc.description or exc.name or "error"))

    @app.errorhandler(NotWritable)
    def not_writable(exc: NotWritable) -> object:
        log.warning("a retried booking found on a read-only database: not confirmed here")
        return error(503, "unavailable",
                     "the booking service is switching over; please retry")

    @app.errorhandler(OperationalError)
    def db_unavailable(exc: OperationalError) -> object:
        # A replica answering (read_only), a primary being failed over, a lost
        # connection: nothing was written, and the same request may be retried.
        log.warning("database unavailable: %s", str(exc.orig)[:200])
        return error(503, "unavailable",
                     "the booking service is switching over; nothing was saved, please retry")
