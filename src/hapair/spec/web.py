"""The web tier: the application (gunicorn) and Apache in front of it, with
what one client may ask of them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hapair.spec.types import AbsPath, DnsName, EnvName, EnvValue, Frozen, Port, SetupCommand

#: What a web.env value may name ({db_host}, ...): render fills them in.
PLACEHOLDERS = ("db_host", "db_port", "db_name", "db_user", "db_password", "secret_key",
                "static_dir", "node")


class WebLimits(Frozen):
    """What one client may ask of Apache, so that a slow or greedy one cannot
    take the workers that everybody's bookings need (`render` shows them in
    the Apache site). Apache reads a request's headers and body itself, at
    the rates below, before the application sees it."""

    # Apache's workers (event MPM: MaxRequestWorkers); the firewall caps one
    # address at firewall.web_connections_per_source of them.
    max_connections: int = Field(default=400, ge=25, le=20_000)
    # A request's headers: within header_timeout_s, extended by a second per
    # 500 bytes received, at most header_max_s (mod_reqtimeout).
    header_timeout_s: int = Field(default=10, ge=1, le=300)
    header_max_s: int = Field(default=20, ge=1, le=600)
    # A body must keep coming at body_min_rate bytes a second (after its
    # first body_timeout_s); a client slower than that is cut off with 408.
    body_timeout_s: int = Field(default=10, ge=1, le=300)
    body_min_rate: int = Field(default=8000, ge=100, le=10_000_000)
    # The largest body a request may carry (413 beyond): upload_max_bytes on
    # the paths under upload_paths (roombook's room photos), body_max_bytes
    # elsewhere.
    body_max_bytes: int = Field(default=1024 * 1024, ge=1024, le=2**31 - 1)
    upload_paths: tuple[Annotated[str, Field(pattern=r"^/[A-Za-z0-9_./-]*\Z")], ...] = (
        "/admin/rooms",)
    upload_max_bytes: int = Field(default=6 * 1024 * 1024, ge=1024, le=2**31 - 1)
    # gunicorn's --timeout: a worker silent this long is killed and replaced.
    app_timeout_s: int = Field(default=30, ge=2, le=3600)


class Web(Frozen):
    app: str = Field(default="roombook.wsgi:app", pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*\Z")
    workers: int = Field(default=4, ge=1, le=64)
    # Threads per worker (gthread): a slow request does not stall health checks.
    threads: int = Field(default=4, ge=1, le=64)
    port: Port = 8000
    static_url: str = Field(default="/static", pattern=r"^(?!.*/\.\.(/|$))/[A-Za-z0-9_./-]*\Z")
    server_name: DnsName | None = None
    # HTTPS on 443, plain HTTP redirected to it (but /healthz, for local
    # checks): "cluster-ca" (a certificate from the cluster CA, made by apply,
    # for the VIP and server_name), "files" (the operator's own, at tls_cert and
    # tls_key on every node: a public CA's, certbot's), or "off".
    tls: Literal["cluster-ca", "files", "off"] = "cluster-ca"
    tls_cert: AbsPath | None = None
    tls_key: AbsPath | None = None
    venv: AbsPath = "/opt/hapair/app"
    # Where apply gets the application: a source folder (with a pyproject) or a
    # wheel, relative to the spec file; without it apply leaves the app alone.
    source: str | None = None
    # The application's environment. Values may name {db_host}, {db_port},
    # {db_name}, {db_user}, {db_password}, {secret_key}, {static_dir}, {node};
    # a value that names a secret goes only to a file that root alone reads.
    env: dict[EnvName, EnvValue] = Field(default_factory=dict)
    # Secrets of the application's own (an SMTP password, a demo account's):
    # their names; the values live in the secrets file's [app] table.
    secrets: tuple[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}\Z")], ...] = ()
    # Commands of the application's (in its venv's bin/) that apply runs on the
    # primary, in the application's environment, whenever a new version of the
    # application is installed: schema migrations, say. Each must be idempotent.
    # Run as argv (never through a shell) as the application's user.
    setup: tuple[SetupCommand, ...] = ()
    limits: WebLimits = WebLimits()
