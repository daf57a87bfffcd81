"""HTTP tests: /v1/tiers and /v1/members/{external_id}/tier."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.support import Api, assert_problem, bearer, client_for
from tests.builders import order_paid_json, refund_json
from tests.conftest import NOW

LADDER: dict[str, Any] = {
    "metric": "points_earned",
    "window": {"kind": "calendar_year"},
    "review": {"grace_days": 14, "max_levels_down": 1},
    "levels": [
        {"id": "silver", "name": "Silver", "threshold": 100},
        {
            "id": "gold",
            "name": "Gold",
            "threshold": 500,
            "benefits": {
                "earn_multiplier": "1.5",
                "free_shipping": True,
                "birthday_gift": {"reward_id": "cake"},
                "exclusive_rewards": True,
                "early_access_days": 2,
                "perks": {"priority_support": "a phone line"},
            },
        },
        {"id": "platinum", "name": "Platinum", "threshold": 1000},
    ],
}


def with_tiers(api: Api) -> dict[str, Any]:
    response = api.client.post("/v1/tiers", json=LADDER)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def buy(api: Api, n: int, amount: str, member: str = "m1") -> None:
    ev = order_paid_json(f"e{n}", member, f"o{n}", [("a", 1, amount)], NOW)
    assert api.event(ev).status_code == 200


# --- POST /v1/tiers ---------------------------------------------------------------------


def test_post_tiers_creates_version_one(api: Api) -> None:
    body = with_tiers(api)

    assert body["version"] == 1
    gold = body["levels"][1]
    assert gold["benefits"]["earn_multiplier"] == "1.5"
    assert gold["benefits"]["birthday_gift"] == {"reward_id": "cake"}
    assert gold["benefits"]["perks"] == {"priority_support": "a phone line"}
    assert api.client.get("/v1/tiers").json() == body


def test_post_tiers_with_a_key_replays(api: Api) -> None:
    headers = {"Idempotency-Key": "k1"}
    first = api.client.post("/v1/tiers", json=LADDER, headers=headers)
    again = api.client.post("/v1/tiers", json=LADDER, headers=headers)

    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_amount_ladder_takes_the_programme_currency(api: Api) -> None:
    data = {**LADDER, "metric": "amount_spent"}

    response = api.client.post("/v1/tiers", json=data)

    assert response.status_code == 201 and response.json()["currency"] == "PLN"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": "visits"}, "metric"),
        ({"window": {"kind": "rolling_days"}}, "window.days"),
        ({"levels": []}, "levels"),
        ({"levels": [LADDER["levels"][1], LADDER["levels"][0]]}, "levels[1].threshold"),
        ({"metric": "amount_spent", "currency": "EUR"}, "currency"),
        ({"review": {"kind": "months_after_reached"}}, "review.months"),
        ({"extra": 1}, "extra"),
    ],
)
def test_post_tiers_refuses_bad_ladders(api: Api, change: dict[str, Any], field: str) -> None:
    response = api.client.post("/v1/tiers", json={**LADDER, **change})

    assert_problem(response, 422, "validation_failed", field)
    assert api.client.get("/v1/tiers").status_code == 404


def test_post_tiers_twice_is_refused(api: Api) -> None:
    with_tiers(api)

    assert_problem(api.client.post("/v1/tiers", json=LADDER), 422, "invalid_settings")


def test_tiers_need_an_admin_key(api: Api) -> None:
    with client_for(api.shop, headers=bearer(api.key("read", "write"))) as client:
        assert_problem(client.post("/v1/tiers", json=LADDER), 403, "forbidden")
        assert_problem(client.patch("/v1/tiers", json={}), 403, "forbidden")
    with client_for(api.shop, headers={}) as client:
        assert_problem(client.get("/v1/tiers"), 401, "unauthenticated")


# --- GET / PATCH /v1/tiers --------------------------------------------------------------


def test_get_tiers_without_a_ladder_is_404(api: Api) -> None:
    assert_problem(api.client.get("/v1/tiers"), 404, "not_found")


def test_patch_tiers_makes_the_next_version(api: Api) -> None:
    first = with_tiers(api)

    response = api.client.patch("/v1/tiers", json={"review": {"grace_days": 30}})

    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["review"]["grace_days"] == 30
    assert response.json()["levels"] == first["levels"]
    assert api.client.get("/v1/tiers").json() == response.json()


def test_patch_tiers_without_a_ladder_is_404(api: Api) -> None:
    assert_problem(api.client.patch("/v1/tiers", json={"metric": "orders"}), 404, "not_found")


def test_patch_refuses_removing_a_held_tier(api: Api) -> None:
    with_tiers(api)
    buy(api, 1, "150")

    response = api.client.patch("/v1/tiers", json={"levels": LADDER["levels"][1:]})

    assert_problem(response, 422, "validation_failed", "levels")
    assert api.client.get("/v1/tiers").json()["version"] == 1


def test_patch_refuses_bad_values(api: Api) -> None:
    with_tiers(api)

    response = api.client.patch("/v1/tiers", json={"window": {"kind": "weekly"}})

    assert_problem(response, 422, "validation_failed", "window.kind")


# --- GET /v1/members/{external_id}/tier ---------------------------------------------------


def test_member_tier_shows_progress_review_and_benefits(api: Api) -> None:
    # given
    with_tiers(api)
    buy(api, 1, "620")

    # when
    body = api.client.get("/v1/members/m1/tier").json()

    # then
    assert body["tier"] == {"id": "gold", "name": "Gold"}
    assert body["since"] == NOW.isoformat()
    assert body["progress"]["value"] == 620
    assert body["progress"]["next_tier"] == "platinum" and body["progress"]["missing"] == 380
    assert body["progress"]["by"] == "2026-12-31T23:00:00+00:00"
    assert body["progress"]["next_review"]["outcome"] == "keep"
    assert body["benefits"]["free_shipping"] is True
    assert body["benefits"]["birthday_gifts"] == [{"reward_id": "cake"}]
    assert [h["to_tier"] for h in body["history"]] == ["gold"]


def test_refund_shows_a_coming_drop_but_no_drop_now(api: Api) -> None:
    with_tiers(api)
    buy(api, 1, "620")

    api.event(refund_json("r1", "o1", "rf1", NOW, amount="300"))
    body = api.client.get("/v1/members/m1/tier").json()

    assert body["tier"]["id"] == "gold"
    review = body["progress"]["next_review"]
    assert (review["outcome"], review["tier"]) == ("drop", "silver")
    assert review["effective_at"] == "2027-01-14T23:00:00+00:00"  # after 14 days' grace


def test_member_tier_errors(api: Api) -> None:
    assert_problem(api.client.get("/v1/members/m1/tier"), 404, "not_found")
    with_tiers(api)
    assert_problem(api.client.get("/v1/members/nobody/tier"), 404, "member_not_found")


# --- PUT /v1/members/{external_id}/tier ---------------------------------------------------


def test_admin_sets_a_tier_with_an_end_date(api: Api) -> None:
    # given
    with_tiers(api)
    buy(api, 1, "10")
    until = (NOW + timedelta(days=90)).isoformat()

    # when
    response = api.client.put(
        "/v1/members/m1/tier", json={"tier": "platinum", "until": until, "note": "press"}
    )

    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tier"]["id"] == "platinum"
    assert body["manual"]["until"] == until and body["manual"]["note"] == "press"
    assert body["history"][0]["to_tier"] == "platinum"
    assert body["history"][0]["from_tier"] is None


def test_admin_removes_the_floor(api: Api) -> None:
    with_tiers(api)
    buy(api, 1, "10")
    api.client.put("/v1/members/m1/tier", json={"tier": "gold"})

    response = api.client.put("/v1/members/m1/tier", json={"tier": None})

    assert response.status_code == 200 and response.json()["manual"] is None


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"tier": "bronze"}, 422, "validation_failed", "tier"),
        ({"tier": "gold", "until": "2020-01-01T00:00:00Z"}, 422, "validation_failed", "until"),
        ({"tier": "gold", "until": "2030-01-01T00:00:00"}, 422, "validation_failed", "until"),
        ({}, 422, "validation_failed", "tier"),
    ],
)
def test_put_member_tier_refuses_bad_input(
    api: Api, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    with_tiers(api)
    buy(api, 1, "10")

    assert_problem(api.client.put("/v1/members/m1/tier", json=body), status, code, field)
    assert api.client.get("/v1/members/m1/tier").json()["manual"] is None


def test_put_member_tier_needs_member_tiers_and_admin(api: Api) -> None:
    assert_problem(api.client.put("/v1/members/m1/tier", json={"tier": "gold"}), 404, "not_found")
    with_tiers(api)
    response = api.client.put("/v1/members/nobody/tier", json={"tier": "gold"})
    assert_problem(response, 404, "member_not_found")
    with client_for(api.shop, headers=bearer(api.key("read", "write"))) as client:
        assert_problem(client.put("/v1/members/m1/tier", json={"tier": "gold"}), 403, "forbidden")
