"""roombook fixtures: an app on SQLite, a real MariaDB server of the tests' own,
and gunicorn serving the app on it."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from roombook.app import create_app
from roombook.cli import _ensure_user
from roombook.config import Settings
from werkzeug.serving import make_server

from roombook import db
from tests.support import servers
from tests.support.servers import MariaDB

PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/roombook/" in str(item.fspath) and "mariadb" in item.fixturenames:
            item.add_marker(pytest.mark.tools)


def future_day(days: int = 10) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def make_app(url: str, tmp: Path, migrate: bool = True) -> Flask:
    settings = Settings(database_url=url, secret_key="s" * 32, upload_dir=str(tmp / "up"),
                        max_upload_bytes=200_000)
    app = create_app(settings, migrate=migrate)
    maker = app.extensions["roombook"].maker
    db.seed_rooms(maker)
    _ensure_user(maker, "alice@example.com", "Alice", PASSWORD, admin=False)
    _ensure_user(maker, "bob@example.com", "Bob", PASSWORD, admin=False)
    _ensure_user(maker, "admin@example.com", "Admin", PASSWORD, admin=True)
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded database made once; each test gets a copy."""
    tmp = tmp_path_factory.mktemp("template")
    make_app(f"sqlite:///{tmp / 'rb.db'}", tmp).extensions["roombook"].engine.dispose()
    return tmp / "rb.db"


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Flask:
    shutil.copy(sqlite_template, tmp_path / "rb.db")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'rb.db'}", secret_key="s" * 32,
                        upload_dir=str(tmp_path / "up"), max_upload_bytes=200_000)
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a port of its own, for a real browser; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def token_for(client: FlaskClient, email: str = "alice@example.com",
              password: str = PASSWORD) -> str:
    r = client.post("/api/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.json
    return str(r.json["token"])  # type: ignore[index]


@pytest.fixture
def alice(client: FlaskClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client)}"}


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    if shutil.which("mariadbd") is None and not Path("/usr/sbin/mariadbd").exists():
        pytest.fail("mariadbd is missing: run `make install`")
    if os.geteuid() != 0:
        pytest.skip("starting mariadbd here needs root")
    with servers.mariadb(tmp_path_factory.mktemp("mariadb"), ("roombook", "roombook_c")) as db_:
        yield db_


@pytest.fixture(scope="session")
def gunicorn_on_mariadb(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory
                        ) -> Iterator[str]:
    """roombook under gunicorn on its own MariaDB database; yields the base URL."""
    tmp = tmp_path_factory.mktemp("gunicorn")
    make_app(mariadb.url("roombook_c"), tmp)  # schema, rooms, users
    with servers.gunicorn(mariadb.url("roombook_c"), tmp / "up") as base:
        yield base
