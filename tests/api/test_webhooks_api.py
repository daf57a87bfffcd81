"""Webhook subscriptions over HTTP: create, list, delete, delivery log, replay, errors."""

from __future__ import annotations

from sqlalchemy import func, select

from loyalty.store.tables import outbox_events
from tests.api.support import Api, assert_problem, bearer
from tests.builders import order_paid_json
from tests.conftest import NOW


def test_create_list_and_delete_a_subscription(api: Api) -> None:
    created = api.client.post(
        "/v1/webhooks", json={"url": "https://crm.example/hooks", "event_types": ["points.earned"]}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["points.earned"]
    listed = api.client.get("/v1/webhooks").json()["items"]
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    assert api.client.delete(f"/v1/webhooks/{body['id']}").status_code == 204
    assert api.client.get("/v1/webhooks").json()["items"] == []
    assert_problem(api.client.delete(f"/v1/webhooks/{body['id']}"), 404, "not_found", "id")


def test_bad_subscriptions_are_rejected(api: Api) -> None:
    bad_url = api.client.post(
        "/v1/webhooks", json={"url": "ftp://x.example/h", "event_types": ["*"]}
    )
    assert_problem(bad_url, 422, "validation_failed", "url")
    bad_type = api.client.post(
        "/v1/webhooks", json={"url": "https://x.example/h", "event_types": ["points.stolen"]}
    )
    assert_problem(bad_type, 422, "validation_failed", "event_types")
    assert api.client.get("/v1/webhooks").json()["items"] == []


def test_subscriptions_need_the_admin_scope(api: Api) -> None:
    key = api.key("read", "write")
    body = {"url": "https://x.example/h", "event_types": ["*"]}
    response = api.client.post("/v1/webhooks", json=body, headers=bearer(key))
    assert_problem(response, 403, "forbidden")


def test_events_write_outbox_rows_and_deliveries_are_listed(api: Api) -> None:
    created = api.client.post(
        "/v1/webhooks", json={"url": "http://127.0.0.1:9/unreachable", "event_types": ["*"]}
    ).json()
    api.event(order_paid_json("e1", "m1", "o1", [("a", 1, "10")], NOW))
    with api.shop.db.read(api.shop.tenant_id) as uow:
        types = uow.conn.execute(
            select(outbox_events.c.type, func.count())
            .where(outbox_events.c.tenant_id == api.shop.tenant_id)
            .group_by(outbox_events.c.type)
        ).all()
    assert dict(types) == {"member.created": 1, "points.earned": 1}
    log = api.client.get(f"/v1/webhooks/{created['id']}/deliveries")
    assert log.status_code == 200 and log.json() == {
        "items": [],
        "next": None,
    }  # not fanned out yet
    missing = api.client.post(f"/v1/webhooks/{created['id']}/deliveries/999999/replay")
    assert_problem(missing, 404, "not_found", "delivery_id")
    assert_problem(api.client.get("/v1/webhooks/999999/deliveries"), 404, "not_found", "id")
