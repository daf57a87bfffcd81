"""HTTP tests: POST/GET /v1/promotions and GET/PATCH/DELETE /v1/promotions/{id}."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import Api, assert_problem, bearer, client_for


def ten_off(promotion_id: str = "spring10", **extra: Any) -> dict[str, Any]:
    return {
        "id": promotion_id,
        "name": "Spring 10%",
        "currency": "PLN",
        "benefits": [{"type": "percent_off", "percent": "10"}],
        "conditions": {"min_subtotal": "100.00"},
        **extra,
    }


def test_create_then_read_a_promotion(api: Api) -> None:
    # when
    response = api.client.post("/v1/promotions", json=ten_off(limits={"uses": 100}))
    # then
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"] == "spring10"
    assert body["version"] == 1
    assert body["active"] is True
    assert body["trigger"] == "automatic"
    assert body["benefits"] == [
        {"type": "percent_off", "percent": "10", "target": "order", "cap": None}
    ]
    assert body["limits"] == {
        "uses": 100,
        "uses_per_member": None,
        "budget": None,
        "code_uses": None,
    }
    assert body["usage"] == {
        "uses": 0,
        "budget_spent": "0",
        "held_uses": 0,
        "held_budget": "0",
        "codes": [],
    }
    assert api.client.get("/v1/promotions/spring10").json() == body


def test_a_code_promotion_stores_its_codes_normalised_with_their_uses(api: Api) -> None:
    response = api.client.post(
        "/v1/promotions",
        json=ten_off(trigger="code", codes=[" welcome "], limits={"code_uses": 1}),
    )
    assert response.status_code == 201, response.text
    assert response.json()["codes"] == ["WELCOME"]
    assert response.json()["usage"]["codes"] == [
        {"code": "WELCOME", "uses": 0, "reserved": 0, "max_uses": 1}
    ]


def test_list_promotions_pages_with_a_cursor(api: Api) -> None:
    for index in range(3):
        created = api.client.post("/v1/promotions", json=ten_off(f"p{index}"))
        assert created.status_code == 201
    first = api.client.get("/v1/promotions", params={"limit": 2}).json()
    assert [p["id"] for p in first["items"]] == ["p0", "p1"]
    rest = api.client.get("/v1/promotions", params={"after": first["next"]}).json()
    assert [p["id"] for p in rest["items"]] == ["p2"]
    assert rest["next"] is None


def test_patch_makes_a_new_version_and_merges_conditions(api: Api) -> None:
    api.client.post("/v1/promotions", json=ten_off())
    # when
    response = api.client.patch(
        "/v1/promotions/spring10",
        json={"priority": 5, "conditions": {"min_quantity": 2}, "limits": {"budget": "500.00"}},
    )
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 2
    assert body["priority"] == 5
    assert body["conditions"]["min_subtotal"] == "100.00"  # kept
    assert body["conditions"]["min_quantity"] == 2
    assert body["limits"]["budget"] == "500.00"


def test_delete_removes_the_promotion_and_frees_nothing_else(api: Api) -> None:
    api.client.post("/v1/promotions", json=ten_off(trigger="code", codes=["A1"]))
    api.client.post("/v1/promotions", json=ten_off("other"))
    # when
    response = api.client.delete("/v1/promotions/spring10")
    # then
    assert response.status_code == 204
    assert_problem(api.client.get("/v1/promotions/spring10"), 404, "promotion_not_found")
    assert [p["id"] for p in api.client.get("/v1/promotions").json()["items"]] == ["other"]
    # and its id stays taken, so old evaluations keep meaning one thing
    again = api.client.post("/v1/promotions", json=ten_off())
    assert_problem(again, 409, "promotion_exists", "id")


def test_a_cel_condition_is_accepted(api: Api) -> None:
    body = ten_off(conditions={"expression": 'cart.lines.exists(l, l.category == "shoes")'})
    response = api.client.post("/v1/promotions", json=body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (ten_off(benefits=[]), "benefits"),
        (ten_off(benefits=[{"type": "percent_off", "percent": "150"}]), "benefits[0].percent"),
        (ten_off(benefits=[{"type": "magic"}]), "benefits[0].type"),
        (ten_off(conditions={"min_subtotal": "1.001"}), "conditions.min_subtotal"),
        (ten_off(conditions={"colour": "red"}), "conditions.colour"),
        (ten_off(conditions={"expression": "cart.subtotal >"}), "conditions.expression"),
        (ten_off(conditions={"expression": "basket.total > 1"}), "conditions.expression"),
        (ten_off(trigger="sometimes"), "trigger"),
        (ten_off(trigger="code", limits={"code_uses": 1}), "limits.code_uses"),
        (ten_off(codes=["X"]), "codes"),
        (ten_off(limits={"uses": 0}), "limits.uses"),
        (ten_off(limits={"budget": "1.001"}), "limits.budget"),
        (ten_off(limits={"code_uses": 1}), "limits.code_uses"),
        (ten_off(limits={"forever": True}), "limits.forever"),
        (ten_off(active="yes"), "active"),
        (ten_off(currency="XXX"), "currency"),
        ({"name": "no id", "benefits": [{"type": "free_shipping"}]}, "id"),
    ],
)
def test_invalid_promotions_are_422_with_the_field_path(
    api: Api, body: dict[str, Any], field: str
) -> None:
    before = api.state()
    response = api.client.post("/v1/promotions", json=body)
    assert_problem(response, 422, "validation_failed", field)
    assert api.state() == before
    assert api.client.get("/v1/promotions").json()["items"] == []


def test_a_body_that_is_not_an_object_is_422(api: Api) -> None:
    response = api.client.post("/v1/promotions", json=["not", "an", "object"])
    assert_problem(response, 422, "validation_failed")


def test_malformed_json_is_400(api: Api) -> None:
    response = api.client.post(
        "/v1/promotions", content=b'{"id": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")


def test_a_code_of_another_promotion_is_409(api: Api) -> None:
    api.client.post("/v1/promotions", json=ten_off("a", trigger="code", codes=["SAME"]))
    response = api.client.post("/v1/promotions", json=ten_off("b", trigger="code", codes=["same"]))
    assert_problem(response, 409, "code_taken", "codes")


def test_patch_validates_like_create_and_keeps_the_old_version(api: Api) -> None:
    api.client.post("/v1/promotions", json=ten_off())
    response = api.client.patch(
        "/v1/promotions/spring10", json={"benefits": [{"type": "amount_off", "amount": "5.001"}]}
    )
    assert_problem(response, 422, "validation_failed", "benefits[0].amount")
    changed_id = api.client.patch("/v1/promotions/spring10", json={"id": "other"})
    assert_problem(changed_id, 422, "validation_failed", "id")
    assert api.client.get("/v1/promotions/spring10").json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "json"), [("get", None), ("patch", {"priority": 1}), ("delete", None)]
)
def test_an_unknown_promotion_is_404(api: Api, method: str, json: Any) -> None:
    kwargs = {"json": json} if json is not None else {}
    response = api.client.request(method.upper(), "/v1/promotions/nope", **kwargs)
    assert_problem(response, 404, "promotion_not_found")


def test_promotions_of_another_tenant_are_invisible(make_api: Any, api: Api) -> None:
    api.client.post("/v1/promotions", json=ten_off())
    other = make_api()
    assert_problem(other.client.get("/v1/promotions/spring10"), 404, "promotion_not_found")
    assert other.client.get("/v1/promotions").json()["items"] == []


def test_writes_need_the_admin_scope_and_reads_a_read_key(api: Api) -> None:
    with client_for(api.shop, bearer(api.key("read", "write"))) as writer:
        assert_problem(writer.post("/v1/promotions", json=ten_off()), 403, "forbidden")
        assert_problem(writer.patch("/v1/promotions/x", json={}), 403, "forbidden")
        assert_problem(writer.delete("/v1/promotions/x"), 403, "forbidden")
        assert writer.get("/v1/promotions").status_code == 200
    with client_for(api.shop, headers={}) as anonymous:
        assert_problem(anonymous.get("/v1/promotions"), 401, "unauthenticated")


def test_a_retried_create_with_the_same_idempotency_key_replays(api: Api) -> None:
    headers = {"Idempotency-Key": "k1"}
    first = api.client.post("/v1/promotions", json=ten_off(), headers=headers)
    again = api.client.post("/v1/promotions", json=ten_off(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = api.client.post("/v1/promotions", json=ten_off("x"), headers=headers)
    assert_problem(other, 422, "idempotency_key_conflict")


def test_reading_needs_the_read_scope_and_a_valid_cursor(api: Api) -> None:
    with client_for(api.shop, bearer(api.key("write"))) as writer:
        assert_problem(writer.get("/v1/promotions"), 403, "forbidden")
        assert_problem(writer.get("/v1/promotions/x"), 403, "forbidden")
    response = api.client.get("/v1/promotions", params={"after": "garbage"})
    assert_problem(response, 400, "invalid_cursor", "after")
    too_many = api.client.get("/v1/promotions", params={"limit": 501})
    assert_problem(too_many, 422, "validation_failed", "limit")
