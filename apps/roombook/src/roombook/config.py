"""Settings from the environment (ROOMBOOK_*), each with a safe default."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///roombook.db"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    upload_dir: str = "uploads"
    timezone: str = "Europe/Paris"
    slot_minutes: int = 30
    day_start: time = time(8, 0)
    day_end: time = time(20, 0)
    max_upload_bytes: int = 5 * 1024 * 1024
    token_hours: int = 12
    seed_sample_rooms: bool = False
    secure_cookies: bool = False  # set when the site is served over TLS
    # Mail (outbox.py): off unless an SMTP server is named. Each booking's
    # booker is told when it is made, changed, cancelled or released, and
    # reminded remind_minutes before it starts (0: never).
    smtp_host: str = ""
    smtp_port: int = 25
    mail_from: str = "roombook@localhost"
    remind_minutes: int = 30
    site_url: str = ""  # the site's address, for the links in mails
    send_mail: bool = True  # the app's workers send the outbox (tests call it)

    @property
    def mail(self) -> bool:
        return bool(self.smtp_host)

    def __post_init__(self) -> None:
        # One folder for saving and serving photos: a relative one is the
        # working directory's, made absolute once (Flask would serve it from
        # the package's folder instead: a 404 under `roombook serve`).
        object.__setattr__(self, "upload_dir", os.path.abspath(self.upload_dir))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def slots_per_day(self) -> int:
        minutes = (self.day_end.hour * 60 + self.day_end.minute) - (
            self.day_start.hour * 60 + self.day_start.minute)
        return minutes // self.slot_minutes


def _time(name: str, value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a time like 08:00") from None


def from_env(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    kwargs: dict[str, object] = {}
    plain = {"DATABASE_URL": "database_url", "SECRET_KEY": "secret_key",
             "UPLOAD_DIR": "upload_dir", "TIMEZONE": "timezone", "SMTP_HOST": "smtp_host",
             "MAIL_FROM": "mail_from", "SITE_URL": "site_url"}
    for var, attr in plain.items():
        if f"ROOMBOOK_{var}" in env:
            kwargs[attr] = env[f"ROOMBOOK_{var}"]
    for var, attr in {"SLOT_MINUTES": "slot_minutes", "MAX_UPLOAD_BYTES": "max_upload_bytes",
                      "TOKEN_HOURS": "token_hours", "SMTP_PORT": "smtp_port",
                      "REMIND_MINUTES": "remind_minutes"}.items():
        if f"ROOMBOOK_{var}" in env:
            try:
                kwargs[attr] = int(env[f"ROOMBOOK_{var}"])
            except ValueError:
                raise ConfigError(f"ROOMBOOK_{var}: not a whole number") from None
    if "ROOMBOOK_SECURE_COOKIES" in env:
        kwargs["secure_cookies"] = env["ROOMBOOK_SECURE_COOKIES"].lower() in ("1", "true", "yes")
    for var, attr in {"DAY_START": "day_start", "DAY_END": "day_end"}.items():
        if f"ROOMBOOK_{var}" in env:
            kwargs[attr] = _time(f"ROOMBOOK_{var}", env[f"ROOMBOOK_{var}"])
    settings = Settings(**kwargs)  # type: ignore[arg-type]
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"ROOMBOOK_TIMEZONE: unknown time zone {settings.timezone!r}") from None
    if "@" not in settings.mail_from or any(c in settings.mail_from for c in "\r\n<>"):
        raise ConfigError("ROOMBOOK_MAIL_FROM: an address like roombook@example.org")
    if not 0 <= settings.remind_minutes <= 24 * 60:
        raise ConfigError("ROOMBOOK_REMIND_MINUTES: 0 (never) to 1440")
    if settings.slot_minutes not in (15, 30, 60):
        raise ConfigError("ROOMBOOK_SLOT_MINUTES: 15, 30 or 60")
    if settings.slots_per_day <= 0:
        raise ConfigError("ROOMBOOK_DAY_END must come after ROOMBOOK_DAY_START")
    return settings
