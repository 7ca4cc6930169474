"""Server settings from the environment (prefix CRM_); what admins change at run time lives in the
settings table instead (crm_server.admin.settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Config(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", env_file=None, extra="ignore")

    # No database URL: the server starts an embedded PostgreSQL in data_dir.
    database_url: str | None = None
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("crm", appauthor=False)))
    host: str = "127.0.0.1"
    port: int = 8400
    # Run the job worker inside this server process (turn off for API-only processes).
    worker: bool = True
    # The worker also defers the periodic jobs at their times (nightly backup, reminders, SLA
    # checks). The tests turn it off (CRM_SCHEDULE=0) so no test depends on the hour it runs at.
    schedule: bool = True
    # How many connections each server process may hold.
    db_pool_size: int = 10
    log_level: str = "info"
    # An optional streaming replica (postgresql:// URL) that reports, exports and search read from
    # (crm_server.replica); skipped, and the primary answers, while it is down or lags more than
    # replica_max_lag_seconds behind.
    replica_url: str | None = None
    replica_max_lag_seconds: float = Field(default=5.0, ge=0, le=86400)
    # The largest request body the server reads (CRM_MAX_BODY_BYTES); larger ones are refused with
    # 413 before any route reads them. Room for a ticket comment with two 10 MB files (base64) and
    # a 25 MB inbound email; the webhooks keep their own, smaller caps.
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)

    def async_url(self) -> str:
        """SQLAlchemy URL for the psycopg 3 async driver."""
        assert self.database_url, "database_url is resolved at start-up"
        return to_sqlalchemy_url(self.database_url)


def to_sqlalchemy_url(url: str) -> str:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"CRM_DATABASE_URL must be a postgresql:// URL, got {url.split('://')[0]}://")


def to_libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@lru_cache
def get_config() -> Config:
    return Config()
