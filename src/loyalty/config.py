"""Settings from the environment (``LOYALTY_*``)."""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_KEY = "development-only-secret-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore")

    env: str = "development"
    # Encrypts stored store-webhook secrets. Must be set (and kept) outside development.
    secret_key: str = DEVELOPMENT_KEY

    database_url: str = "sqlite:///loyalty.db"
    jobs_interval_seconds: float = 60.0
    run_jobs_in_process: bool = True
    db_pool_size: int = 8
    switch_interval_seconds: float = 0.0005
    # Where the programme analytics read model keeps its Parquet copies, one folder per tenant
    # ("" = in memory only: every process start reads the history again). docs/analytics.md.
    analytics_dir: str = "loyalty-analytics"

    @model_validator(mode="after")
    def _no_placeholder_secret_outside_development(self) -> Settings:
        if self.env != "development" and self.secret_key == DEVELOPMENT_KEY:
            raise ValueError(
                "set LOYALTY_SECRET_KEY: the development key is refused outside development"
            )
        return self
