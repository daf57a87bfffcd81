"""HTTP tests: operations endpoints and GET/PUT /v1/program."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loyalty.api.app import create_app
from loyalty.services.context import FixedClock
from loyalty.store.db import make_engine
from loyalty.store.uow import Database
from tests.api.support import Api, assert_problem, bearer, client_for
from tests.builders import order_paid_json
from tests.conftest import NOW

# --- operations -----------------------------------------------------------------------------


def test_healthz_answers_without_credentials(api: Api) -> None:
    with client_for(api.shop, headers={}) as anonymous:
        response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_answers(api: Api) -> None:
    with client_for(api.shop, headers={}) as anonymous:
        response = anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_is_unavailable_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    # given a database file in a directory that does not exist
    engine = make_engine(f"sqlite:///{tmp_path}/missing/loyalty.db")
    try:
        with TestClient(create_app(Database(engine), FixedClock(NOW))) as client:
            # when
            response = client.get("/readyz")
    finally:
        engine.dispose()
    # then
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_openapi_documents_every_endpoint(api: Api) -> None:
    with client_for(api.shop, headers={}) as anonymous:
        response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/healthz": {"get"},
        "/readyz": {"get"},
        "/v1/program": {"get", "put"},
        "/v1/members": {"get", "post"},
        "/v1/members/{external_id}": {"get", "patch"},
        "/v1/members/{external_id}/ledger": {"get"},
        "/v1/members/{external_id}/adjustments": {"post"},
        "/v1/transfers": {"post"},
        "/v1/events": {"post"},
        "/v1/events/batch": {"post"},
        "/v1/imports": {"post"},
        "/v1/connectors/{platform}": {"get", "put"},
        "/v1/members/{external_id}/claim-orders": {"post"},
        "/hooks/{tenant}/{platform}": {"post"},
        "/v1/imports/{import_id}": {"get"},
        "/v1/webhooks": {"get", "post"},
        "/v1/webhooks/{webhook_id}": {"delete"},
        "/v1/webhooks/{webhook_id}/deliveries": {"get"},
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/replay": {"post"},
        "/v1/members/{external_id}/profile": {"get"},
        "/v1/analytics/profiles/refresh": {"post"},
        "/v1/analytics/segments": {"get"},
        "/v1/members/{external_id}/referral": {"get"},
        "/v1/referrals": {"get", "post"},
        "/v1/referrals/stats": {"get"},
        "/v1/referrals/settings": {"get", "put"},
        "/v1/tiers": {"get", "post", "patch"},
        "/v1/members/{external_id}/tier": {"get", "put"},
        "/v1/membership-plans": {"get", "post"},
        "/v1/membership-plans/{plan_id}": {"get", "patch"},
        "/v1/members/{external_id}/memberships": {"get", "post"},
        "/v1/members/{external_id}/memberships/{membership_id}/cancel": {"post"},
        "/v1/rewards": {"get", "post"},
        "/v1/rewards/{reward_id}": {"get", "patch"},
        "/v1/members/{external_id}/redemptions": {"get", "post"},
        "/v1/redemptions/{redemption_id}": {"get"},
        "/v1/redemptions/{redemption_id}/cancel": {"post"},
        "/v1/redemptions/{redemption_id}/fulfilment": {"post"},
        "/v1/coupons/{code}": {"get"},
        "/v1/coupons/{code}/use": {"post"},
        "/v1/coupon-batches": {"get", "post"},
        "/v1/coupon-batches/{batch_id}": {"get"},
        "/v1/coupon-batches/{batch_id}/codes.csv": {"get"},
        "/v1/segments": {"get", "post"},
        "/v1/segments/refresh": {"post"},
        "/v1/segments/{segment_id}": {"get", "patch", "delete"},
        "/v1/segments/{segment_id}/refresh": {"post"},
        "/v1/segments/{segment_id}/history": {"get"},
        "/v1/segments/{segment_id}/members": {"get", "post", "delete"},
        "/v1/members/{external_id}/segments": {"get"},
        "/v1/surveys": {"get", "post"},
        "/v1/surveys/{survey_id}": {"get", "patch"},
        "/v1/surveys/{survey_id}/responses": {"post"},
        "/v1/surveys/{survey_id}/results": {"get"},
        "/v1/analytics/members": {"get"},
        "/v1/analytics/repeat-purchase": {"get"},
        "/v1/analytics/cohorts": {"get"},
        "/v1/analytics/customer-value": {"get"},
        "/v1/analytics/launch": {"get"},
        "/v1/analytics/revenue": {"get"},
        "/v1/analytics/points": {"get"},
        "/v1/analytics/liability": {"get"},
        "/v1/analytics/rewards": {"get"},
        "/v1/analytics/tiers": {"get"},
        "/v1/analytics/tier-movements": {"get"},
        "/v1/analytics/referrals": {"get"},
        "/v1/analytics/referral-rejections": {"get"},
        "/v1/analytics/nps": {"get"},
        "/v1/promotions": {"get", "post"},
        "/v1/promotions/{promotion_id}": {"get", "patch", "delete"},
        "/v1/carts/evaluate": {"post"},
        "/v1/rules": {"get", "post"},
        "/v1/rules/{rule_id}": {"get", "patch", "delete"},
        "/v1/simulate": {"post"},
        "/v1/members/{external_id}/wallet": {"get"},
        "/v1/members/{external_id}/wallet/spend": {"post"},
    }
    assert {path: set(ops) for path, ops in paths.items()} == expected


def test_an_unknown_route_is_a_not_found_problem(api: Api) -> None:
    response = api.client.get("/v1/nothing-here")
    assert_problem(response, 404, "not_found")


# --- GET /v1/program --------------------------------------------------------------------------


def test_get_program_shows_the_settings_version_and_time_zone(api: Api) -> None:
    response = api.client.get("/v1/program")
    assert response.status_code == 200
    assert response.json() == {
        "currency": "PLN",
        "points_per_unit": "1",
        "rounding": "floor",
        "exclude_shipping": True,
        "exclude_tax": True,
        "pending_days": 0,
        "expiry": {"kind": "never", "days": None, "months": None},
        "clawback": "negative_balance",
        "transfers_enabled": False,
        "expiring_soon_days": 30,
        "launched_at": None,
        "point_value": None,
        "expected_breakage": None,
        "points_max_share": "1",
        "checkout_ttl_minutes": 15,
        "code_refund_policy": "keep",
        "version": 1,
        "timezone": "Europe/Warsaw",
    }


def test_a_read_key_may_read_the_program(api: Api) -> None:
    with client_for(api.shop, bearer(api.key("read"))) as reader:
        response = reader.get("/v1/program")
    assert response.status_code == 200
    assert response.json()["currency"] == "PLN"


# --- PUT /v1/program --------------------------------------------------------------------------


def test_put_program_changes_only_the_given_settings_and_bumps_the_version(api: Api) -> None:
    # when
    response = api.client.put(
        "/v1/program",
        json={"points_per_unit": "2.5", "rounding": "half_up", "exclude_shipping": False},
    )
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["points_per_unit"] == "2.5"
    assert body["rounding"] == "half_up"
    assert body["exclude_shipping"] is False
    assert body["exclude_tax"] is True  # untouched
    assert body["pending_days"] == 0  # untouched
    assert body["version"] == 2
    assert api.client.get("/v1/program").json() == body


def test_new_program_settings_apply_to_the_next_request(api: Api) -> None:
    # given
    api.client.put("/v1/program", json={"points_per_unit": "2.5", "rounding": "half_up"})
    # when an order of 0.99 is paid
    response = api.event(order_paid_json("e1", "m1", "o1", [("a", 3, "0.33")], NOW))
    # then 0.99 x 2.5 = 2.475 -> 2 (half up)
    assert response.status_code == 200, response.text
    assert response.json()["effects"][0]["points"] == 2


def test_put_program_sets_the_checkout_settings_and_null_turns_points_payment_off(
    api: Api,
) -> None:
    # when
    response = api.client.put(
        "/v1/program",
        json={
            "point_value": "0.05",
            "points_max_share": "0.5",
            "checkout_ttl_minutes": 30,
            "code_refund_policy": "release_on_full_refund",
        },
    )
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["point_value"], body["points_max_share"]) == ("0.05", "0.5")
    assert body["checkout_ttl_minutes"] == 30
    assert body["code_refund_policy"] == "release_on_full_refund"
    # and sending null switches paying with points off, leaving the rest
    off = api.client.put("/v1/program", json={"point_value": None}).json()
    assert off["point_value"] is None
    assert off["points_max_share"] == "0.5"


def test_put_program_sets_an_expiry_policy(api: Api) -> None:
    response = api.client.put(
        "/v1/program", json={"expiry": {"kind": "end_of_month_after", "months": 12}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["expiry"] == {"kind": "end_of_month_after", "days": None, "months": 12}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"points_per_unit": "-1"}, "validation_failed", "points_per_unit"),
        ({"points_per_unit": "NaN"}, "validation_failed", "points_per_unit"),
        ({"points_per_unit": "lots"}, "validation_failed", "points_per_unit"),
        ({"rounding": "up"}, "validation_failed", "rounding"),
        ({"pending_days": -1}, "validation_failed", "pending_days"),
        ({"pending_days": 366}, "validation_failed", "pending_days"),
        ({"expiring_soon_days": 0}, "validation_failed", "expiring_soon_days"),
        ({"clawback": "forgive"}, "validation_failed", "clawback"),
        ({"transfers_enabled": "maybe"}, "validation_failed", "transfers_enabled"),
        ({"expiry": {"kind": "someday"}}, "validation_failed", "expiry.kind"),
        ({"expiry": {"kind": "days_after_earn", "days": 0}}, "validation_failed", "expiry.days"),
        ({"expiry": {"kind": "days_after_earn"}}, "invalid_settings", "expiry.days"),
        ({"expiry": {"kind": "inactivity"}}, "invalid_settings", "expiry.days"),
        ({"expiry": {"kind": "end_of_year_after"}}, "invalid_settings", "expiry.months"),
        ({"points_per_dollar": 1}, "validation_failed", "points_per_dollar"),
        ({"currency": "XXX"}, "unknown_currency", "currency"),
        ({"currency": "pln"}, "unknown_currency", "currency"),
        ({"point_value": "0"}, "validation_failed", "point_value"),
        ({"point_value": "-0.01"}, "validation_failed", "point_value"),
        ({"points_max_share": "0"}, "validation_failed", "points_max_share"),
        ({"points_max_share": "1.5"}, "validation_failed", "points_max_share"),
        ({"checkout_ttl_minutes": 0}, "validation_failed", "checkout_ttl_minutes"),
        ({"checkout_ttl_minutes": 1441}, "validation_failed", "checkout_ttl_minutes"),
        ({"code_refund_policy": "sometimes"}, "validation_failed", "code_refund_policy"),
    ],
)
def test_invalid_program_settings_are_rejected_and_nothing_changes(
    api: Api, body: dict[str, Any], code: str, field: str
) -> None:
    # given
    before = api.state()
    # when
    response = api.client.put("/v1/program", json=body)
    # then
    assert_problem(response, 422, code, field)
    assert api.state() == before
    assert api.client.get("/v1/program").json()["version"] == 1


def test_put_program_with_malformed_json_is_a_400(api: Api) -> None:
    response = api.client.put(
        "/v1/program", content=b'{"rounding": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json", "body")


def test_currency_may_change_while_no_order_exists(api: Api) -> None:
    response = api.client.put("/v1/program", json={"currency": "EUR"})
    assert response.status_code == 200, response.text
    assert response.json()["currency"] == "EUR"
    # and orders in the new currency now earn
    earned = api.event(order_paid_json("e1", "m1", "o1", [("a", 1, "10")], NOW, currency="EUR"))
    assert earned.status_code == 200, earned.text
    assert earned.json()["balances"]["available"] == 10


def test_currency_cannot_change_once_orders_exist(api: Api) -> None:
    # given an order recorded in PLN
    assert api.event(order_paid_json("e1", "m1", "o1", [("a", 1, "10")], NOW)).status_code == 200
    before = api.state()
    # when
    response = api.client.put("/v1/program", json={"currency": "EUR", "pending_days": 3})
    # then nothing changes, not even the other setting sent along
    assert_problem(response, 422, "invalid_settings", "currency")
    assert api.state() == before
    program = api.client.get("/v1/program").json()
    assert (program["currency"], program["pending_days"]) == ("PLN", 0)
    # while other settings (and restating the same currency) still may change
    ok = api.client.put("/v1/program", json={"currency": "PLN", "pending_days": 3})
    assert ok.status_code == 200, ok.text
    assert ok.json()["pending_days"] == 3


@pytest.mark.parametrize("scopes", [("read",), ("write",), ("read", "write")])
def test_put_program_needs_the_admin_scope(api: Api, scopes: tuple[str, ...]) -> None:
    # given
    before = api.state()
    with client_for(api.shop, bearer(api.key(*scopes))) as client:
        # when
        response = client.put("/v1/program", json={"transfers_enabled": True})
    # then
    assert_problem(response, 403, "forbidden")
    assert api.state() == before
    assert api.client.get("/v1/program").json()["transfers_enabled"] is False
