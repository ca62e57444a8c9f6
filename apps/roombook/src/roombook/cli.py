"""The `roombook` command: serve (a quick start on SQLite), db upgrade, seed, users."""

from __future__ import annotations

import getpass
import os
import secrets
import sys

import click
from sqlalchemy import select

from roombook import auth, db
from roombook.app import create_app
from roombook.config import ConfigError, Settings, from_env
from roombook.context import utcnow
from roombook.models import User


def _settings() -> Settings:
    try:
        return from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """Conference-room booking."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
def serve(host: str, port: int) -> None:
    """Run alone on an embedded database (SQLite) with a few sample rooms."""
    settings = _settings()
    app = create_app(settings, migrate=True)
    maker = app.extensions["roombook"].maker
    db.seed_rooms(maker)
    email = "demo@roombook.test"
    password = os.environ.get("ROOMBOOK_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    if _ensure_user(maker, email, "Demo", password, admin=True):
        said = ("ROOMBOOK_DEMO_PASSWORD" if os.environ.get("ROOMBOOK_DEMO_PASSWORD")
                else password)
        click.echo(f"roombook on http://{host}:{port}/  (sign in as {email}, password {said})")
    else:
        click.echo(f"roombook on http://{host}:{port}/  ({email} exists already: its password "
                   "is unchanged)")
    app.run(host=host, port=port, threaded=True)


@main.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the tables (Alembic); running it again changes nothing."""
    settings = _settings()
    db.upgrade(settings.database_url)
    click.echo("database schema is current")


@main.command()
@click.option("--sample-rooms", is_flag=True, help="add four sample rooms if there are none")
@click.option("--demo-user", default=None, help="an admin account whose password is "
                                                "ROOMBOOK_DEMO_PASSWORD")
def seed(sample_rooms: bool, demo_user: str | None) -> None:
    """Sample data for a demo; running it again changes nothing."""
    settings = _settings()
    maker = db.sessions(db.make_engine(settings.database_url))
    if sample_rooms:
        click.echo(f"{db.seed_rooms(maker)} sample rooms added")
    if demo_user:
        password = os.environ.get("ROOMBOOK_DEMO_PASSWORD")
        if not password:
            raise click.ClickException("ROOMBOOK_DEMO_PASSWORD is not set")
        made = _ensure_user(maker, demo_user, "Demo", password, admin=True)
        click.echo(f"{demo_user}: {'created' if made else 'exists'}")


@main.command("add-user")
@click.argument("email")
@click.argument("name")
@click.option("--admin", is_flag=True)
def add_user(email: str, name: str, admin: bool) -> None:
    """Create an account; the password is asked for (or ROOMBOOK_NEW_PASSWORD)."""
    if not auth.valid_email(email.strip().lower()):
        raise click.ClickException(f"{email!r} is not an email address like name@example.org")
    password = os.environ.get("ROOMBOOK_NEW_PASSWORD") or getpass.getpass("Password: ")
    if len(password) < 10:
        raise click.ClickException("the password needs at least 10 characters")
    maker = db.sessions(db.make_engine(_settings().database_url))
    if not _ensure_user(maker, email, name, password, admin=admin):
        raise click.ClickException(f"{email} has an account already")
    click.echo(f"account {email} created")


def _ensure_user(maker, email: str, name: str, password: str, *, admin: bool) -> bool:  # type: ignore[no-untyped-def]
    email = email.strip().lower()
    with maker.begin() as s:
        if s.scalar(select(User.id).where(User.email == email)) is not None:
            return False
        s.add(User(email=email, name=name, password_hash=auth.hash_password(password),
                   is_admin=admin, created_at=utcnow()))
    return True


if __name__ == "__main__":
    sys.exit(main())
