"""Settings from the environment (``LOYALTY_*``)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="ignore")

    database_url: str = "sqlite:///loyalty.db"
    jobs_interval_seconds: float = 60.0
    run_jobs_in_process: bool = True
    db_pool_size: int = 8
    switch_interval_seconds: float = 0.0005
