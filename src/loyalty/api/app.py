"""The FastAPI application."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI

from loyalty import __version__, bootstrap
from loyalty.api import problems
from loyalty.api.routes import (
    analytics,
    carts,
    connectors,
    coupons,
    engagement_analytics,
    events,
    health,
    imports,
    members,
    memberships,
    program,
    program_analytics,
    promotions,
    referrals,
    rewards,
    rules,
    segments,
    surveys,
    tiers,
    wallet,
    webhooks,
)
from loyalty.config import Settings
from loyalty.integrations.jws import JwksCache
from loyalty.services.context import Clock, SystemClock
from loyalty.services.secret_box import SecretBox
from loyalty.store.uow import Database


def create_app(db: Database, clock: Clock | None = None, secret_key: str | None = None) -> FastAPI:
    app = FastAPI(
        title="Loyalty Engine",
        version=__version__,
        description="Points, tiers, rewards and the analytics that show whether they pay off.",
    )
    app.state.db = db
    app.state.clock = clock or SystemClock()
    app.state.secret_box = SecretBox(secret_key or Settings().secret_key)
    app.state.jwks = JwksCache()  # Saleor's public signing keys, per configured API URL
    problems.install(app)
    # The routes are tried in this order, every route of a router before the next router
    # (FastAPI does not skip a router by its prefix): the hot paths first. No other route
    # matches a path of events or carts, so their place changes no answer.
    for module in (
        events,
        carts,
        health,
        program,
        members,
        imports,
        webhooks,
        connectors,
        analytics,
        referrals,
        tiers,
        memberships,
        rewards,
        coupons,
        segments,
        surveys,
        program_analytics,
        engagement_analytics,
        promotions,
        rules,
        wallet,
    ):
        app.include_router(module.router)
    _document_body_models(app)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``loyalty serve --workers N`` (settings from the
    environment; the parent process has already migrated the database)."""
    settings = Settings()
    sys.setswitchinterval(settings.switch_interval_seconds)
    db = bootstrap.database(settings, run_migrations=False)
    return create_app(db, SystemClock(), settings.secret_key)


def _document_body_models(app: FastAPI) -> None:
    """``POST /v1/events`` and ``POST /v1/carts/evaluate`` parse their bodies themselves;
    their models still belong in the schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            models = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in (*events.EVENT_MODELS.items(), *carts.CART_MODELS.items()):
                models.setdefault(name, model)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
