"""HTTP tests: /v1/rules CRUD, POST /v1/simulate, and earning through rules via /v1/events."""

from __future__ import annotations

from typing import Any

from tests.api.support import Api, assert_problem, bearer, client_for
from tests.conftest import NOW

DOUBLE_PETS = {
    "name": "Double points on pets",
    "trigger": "order.paid",
    "condition": '"pets" in order.categories',
    "effect": {"kind": "multiplier", "factor": "2", "lines": {"categories": ["pets"]}},
    "priority": 10,
}


def order(
    event_id: str = "e1",
    member: str = "m1",
    order_id: str = "o1",
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.paid",
        "occurred_at": NOW.isoformat(),
        "member": {"external_id": member},
        "data": {
            "order_id": order_id,
            "currency": "PLN",
            "lines": lines
            or [
                {"sku": "DOG", "quantity": 1, "unit_price": "100.00", "category": "pets"},
                {"sku": "BALL", "quantity": 2, "unit_price": "20.00", "category": "toys"},
            ],
        },
    }


def action(type_: str, event_id: str = "a1", member: str = "m1", **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": type_,
        "occurred_at": NOW.isoformat(),
        "member": {"external_id": member},
        "data": data,
    }


def create(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.client.post("/v1/rules", json={**DOUBLE_PETS, **overrides})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bonus(trigger: str, points: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"{trigger} bonus",
        "trigger": trigger,
        "effect": {"kind": "fixed_points", "points": points},
        **extra,
    }


# --- CRUD -------------------------------------------------------------------------------------


def test_create_get_and_list_a_rule(api: Api) -> None:
    # when
    created = create(api)

    # then
    assert created["version"] == 1
    assert created["id"].isdigit()
    assert created["effect"] == {
        "kind": "multiplier",
        "factor": "2",
        "lines": {"categories": ["pets"]},
    }
    assert [v["version"] for v in created["versions"]] == [1]
    fetched = api.client.get(f"/v1/rules/{created['id']}").json()
    assert fetched["name"] == "Double points on pets"
    listed = api.client.get("/v1/rules").json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]
    assert listed["next"] is None


def test_list_filters_by_trigger_and_pages(api: Api) -> None:
    create(api)
    signup = api.client.post("/v1/rules", json=bonus("member.signed_up", 100)).json()
    create(api, name="another")

    only = api.client.get("/v1/rules", params={"trigger": "member.signed_up"}).json()
    first = api.client.get("/v1/rules", params={"limit": 2}).json()
    rest = api.client.get("/v1/rules", params={"limit": 2, "after": first["next"]}).json()

    assert [r["id"] for r in only["items"]] == [signup["id"]]
    assert len(first["items"]) == 2 and len(rest["items"]) == 1


def test_a_condition_that_does_not_compile_is_a_422_that_says_where(api: Api) -> None:
    before = api.state()

    response = api.client.post(
        "/v1/rules", json={**DOUBLE_PETS, "condition": "order.total >=\n  && true"}
    )

    body = assert_problem(response, 422, "invalid_condition", "condition")
    assert (body["line"], body["column"]) == (2, 3)
    assert "line 2, column 3" in body["detail"]
    assert api.state() == before


def test_an_unknown_field_in_a_condition_is_a_422_with_its_path(api: Api) -> None:
    response = api.client.post("/v1/rules", json={**DOUBLE_PETS, "condition": "order.totl > 1"})

    body = assert_problem(response, 422, "unknown_condition_field", "condition")
    assert (body["line"], body["column"], body["path"]) == (1, 7, "order.totl")


def test_an_unknown_function_is_a_422(api: Api) -> None:
    response = api.client.post("/v1/rules", json={**DOUBLE_PETS, "condition": "sneaky(1)"})

    assert_problem(response, 422, "unknown_condition_function", "condition")


def test_malformed_rule_data_names_the_field(api: Api) -> None:
    cases = [
        ({**DOUBLE_PETS, "effect": {"kind": "bogus"}}, "effect.kind"),
        ({**DOUBLE_PETS, "trigger": "order.shipped"}, "trigger"),
        ({**DOUBLE_PETS, "colour": "red"}, "colour"),
        ({**DOUBLE_PETS, "id": "5"}, "id"),
        ({**DOUBLE_PETS, "limits": {"budget_points": -1}}, "limits.budget_points"),
        ({k: v for k, v in DOUBLE_PETS.items() if k != "name"}, "name"),
    ]
    for body, field in cases:
        assert_problem(api.client.post("/v1/rules", json=body), 422, "invalid_rule", field)


def test_a_body_that_is_not_an_object_is_refused(api: Api) -> None:
    response = api.client.post("/v1/rules", json=["not", "a", "rule"])

    assert_problem(response, 422, "validation_failed")


def test_rules_need_an_admin_key_to_change_and_a_read_key_to_see(api: Api) -> None:
    created = create(api)
    with client_for(api.shop, bearer(api.key("write"))) as writer:
        assert_problem(writer.post("/v1/rules", json=DOUBLE_PETS), 403, "forbidden")
        assert_problem(
            writer.patch(f"/v1/rules/{created['id']}", json={"priority": 1}), 403, "forbidden"
        )
        assert_problem(writer.delete(f"/v1/rules/{created['id']}"), 403, "forbidden")
    with client_for(api.shop, bearer(api.key("read"))) as reader:
        assert reader.get(f"/v1/rules/{created['id']}").status_code == 200
    with client_for(api.shop, {}) as anonymous:
        assert_problem(anonymous.get("/v1/rules"), 401, "unauthenticated")


def test_an_unknown_rule_is_a_404(api: Api) -> None:
    for path in ("/v1/rules/999999", "/v1/rules/not-a-number"):
        assert_problem(api.client.get(path), 404, "rule_not_found", "id")
        assert_problem(api.client.patch(path, json={"priority": 1}), 404, "rule_not_found")
        assert_problem(api.client.delete(path), 404, "rule_not_found")


def test_a_bad_cursor_is_a_400(api: Api) -> None:
    assert_problem(api.client.get("/v1/rules", params={"after": "xyz"}), 400, "invalid_cursor")


def test_each_edit_is_a_new_version(api: Api) -> None:
    created = create(api)
    path = f"/v1/rules/{created['id']}"

    edited = api.client.patch(path, json={"effect": {"kind": "multiplier", "factor": "3"}})
    unchanged = api.client.patch(path, json={"priority": 10})

    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert edited.json()["effect"]["factor"] == "3"
    assert edited.json()["condition"] == DOUBLE_PETS["condition"]
    assert unchanged.json()["version"] == 2
    assert [v["version"] for v in api.client.get(path).json()["versions"]] == [1, 2]


def test_a_bad_edit_changes_nothing(api: Api) -> None:
    created = create(api)
    path = f"/v1/rules/{created['id']}"
    before = api.state()

    response = api.client.patch(path, json={"condition": "order.lines.exists(l, l.skuu == 1)"})

    body = assert_problem(response, 422, "unknown_condition_field", "condition")
    assert body["path"] == "l.skuu"
    assert api.state() == before
    assert api.client.get(path).json()["version"] == 1


def test_a_deleted_rule_is_gone_and_earns_no_more(api: Api) -> None:
    created = create(api)
    path = f"/v1/rules/{created['id']}"

    deleted = api.client.delete(path)

    assert deleted.status_code == 204
    assert_problem(api.client.get(path), 404, "rule_not_found")
    assert api.client.get("/v1/rules").json()["items"] == []
    assert [e["points"] for e in api.event(order()).json()["effects"]] == [140]


def test_create_is_idempotent_with_a_key(api: Api) -> None:
    headers = {"Idempotency-Key": "rule-1"}
    first = api.client.post("/v1/rules", json=DOUBLE_PETS, headers=headers)
    again = api.client.post("/v1/rules", json=DOUBLE_PETS, headers=headers)

    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert len(api.client.get("/v1/rules").json()["items"]) == 1


# --- earning on order.paid --------------------------------------------------------------------


def test_an_order_earns_base_and_rule_points_each_naming_its_rule(api: Api) -> None:
    # given double points on pets
    rule = create(api)

    # when 100 (pets) + 40 (toys)
    response = api.event(order())

    # then base 140 and +100 from the multiplier, one ledger entry each
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(e["points"] for e in body["effects"]) == [100, 140]
    assert body["balances"]["available"] == 240
    assert {r["rule_id"]: r["points"] for r in body["rules"]} == {"base": 140, rule["id"]: 100}
    ledger = {e["points"]: e for e in api.ledger("m1")}
    assert (ledger[100]["rule_id"], ledger[100]["rule_version"]) == (int(rule["id"]), 1)
    assert "rule_id" not in ledger[140]
    api.assert_ledger_clean()


def test_ledger_entries_keep_the_version_that_earned_them(api: Api) -> None:
    rule = create(api)
    api.event(order("e1", order_id="o1"))
    api.client.patch(
        f"/v1/rules/{rule['id']}", json={"effect": {"kind": "multiplier", "factor": "3"}}
    )

    api.event(order("e2", order_id="o2"))

    versions = sorted((e["rule_version"], e["points"]) for e in api.ledger("m1") if "rule_id" in e)
    assert versions == [(1, 100), (2, 280)]  # the new effect has no line filter


def test_a_refund_takes_back_from_every_rule_in_proportion(api: Api) -> None:
    create(api)
    api.event(order())

    response = api.event(
        {
            "id": "r1",
            "type": "order.refunded",
            "occurred_at": NOW.isoformat(),
            "data": {"order_id": "o1", "refund_id": "rf1", "amount": "70.00"},
        }
    )

    assert response.status_code == 200, response.text
    assert sorted(e["points"] for e in response.json()["effects"]) == [-70, -50]
    assert api.balances("m1")["available"] == 120
    api.assert_ledger_clean()


def test_cancelling_takes_back_every_rule_lot(api: Api) -> None:
    create(api)
    api.event(order())

    response = api.event(
        {
            "id": "c1",
            "type": "order.cancelled",
            "occurred_at": NOW.isoformat(),
            "data": {"order_id": "o1"},
        }
    )

    assert sorted(e["points"] for e in response.json()["effects"]) == [-140, -100]
    assert api.balances("m1")["available"] == 0


def test_an_exclusive_rule_replaces_the_base_rate(api: Api) -> None:
    api.client.post(
        "/v1/rules",
        json={
            "name": "flat 10",
            "trigger": "order.paid",
            "effect": {"kind": "fixed_points", "points": 10},
            "exclusive": True,
        },
    )

    body = api.event(order()).json()

    assert [e["points"] for e in body["effects"]] == [10]


def test_a_failing_condition_is_recorded_and_the_event_still_earns(api: Api) -> None:
    rule = create(api, condition='event.data.coupon == "X"')

    response = api.event(order())

    assert response.status_code == 200
    assert [e["points"] for e in response.json()["effects"]] == [140]
    failures = api.client.get(f"/v1/rules/{rule['id']}").json()["recent_failures"]
    assert len(failures) == 1
    assert failures[0]["event_type"] == "order.paid"
    assert "condition failed" in failures[0]["error"]


def test_a_daily_limit_stops_the_second_order_of_the_day(api: Api) -> None:
    create(
        api,
        name="first order of the day",
        condition="",
        effect={"kind": "fixed_points", "points": 50},
        limits={"per_member": [{"period": "day", "max_times": 1}]},
    )

    first = api.event(order("e1", order_id="o1")).json()
    second = api.event(order("e2", order_id="o2")).json()

    assert sorted(e["points"] for e in first["effects"]) == [50, 140]
    assert [e["points"] for e in second["effects"]] == [140]


def test_a_budget_is_shared_by_all_members(api: Api) -> None:
    create(
        api,
        condition="",
        effect={"kind": "fixed_points", "points": 60},
        limits={"budget_points": 100},
    )

    first = api.event(order("e1", "ann", "o1")).json()
    second = api.event(order("e2", "bob", "o2")).json()
    third = api.event(order("e3", "cid", "o3")).json()

    assert sorted(e["points"] for e in first["effects"]) == [60, 140]
    assert sorted(e["points"] for e in second["effects"]) == [40, 140]
    assert [e["points"] for e in third["effects"]] == [140]


def test_a_stamp_card_grants_its_reward_on_the_third_order(api: Api) -> None:
    create(
        api,
        condition="",
        effect={"kind": "stamp_card", "every": 3, "reward_id": "free-coffee"},
    )

    bodies = [api.event(order(f"e{i}", order_id=f"o{i}")).json() for i in range(3)]

    assert [b.get("rewards") for b in bodies[:2]] == [None, None]
    assert bodies[2]["rewards"][0]["reward_id"] == "free-coffee"


def test_cashback_goes_to_the_wallet(api: Api) -> None:
    create(api, condition="", effect={"kind": "cashback", "percent": "5"})

    body = api.event(order()).json()

    assert body["cashback"][0]["amount"] == "7.00"
    wallet = api.client.get("/v1/members/m1/wallet").json()
    assert wallet["balance"] == "7.00"
    assert wallet["entries"][0]["rule"]["version"] == 1


def test_a_refund_shows_the_cashback_it_takes_back_from_the_wallet(api: Api) -> None:
    create(api, condition="", effect={"kind": "cashback", "percent": "5"})
    api.event(order())  # 140.00 -> 7.00 back

    response = api.event(
        {
            "id": "r1",
            "type": "order.refunded",
            "occurred_at": NOW.isoformat(),
            "data": {"order_id": "o1", "refund_id": "rf1", "amount": "70.00"},
        }
    )

    assert response.status_code == 200, response.text
    [entry] = response.json()["cashback"]
    assert (entry["kind"], entry["amount"], entry["balance_after"]) == ("reverse", "-3.50", "3.50")
    assert entry["rule"]["version"] == 1
    assert api.client.get("/v1/members/m1/wallet").json()["balance"] == "3.50"


def test_a_retried_order_event_earns_once(api: Api) -> None:
    create(api)
    first = api.event(order())

    again = api.event(order())

    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert api.balances("m1")["available"] == 240


# --- action events ----------------------------------------------------------------------------


def test_each_action_event_earns_per_its_rule_once(api: Api) -> None:
    actions = [
        "member.signed_up",
        "member.birthday",
        "review.approved",
        "referral.completed",
        "social.shared",
        "newsletter.subscribed",
        "survey.answered",
        "custom.quiz_won",
    ]
    for index, type_ in enumerate(actions):
        api.client.post("/v1/rules", json=bonus(type_, 10 + index))

    for index, type_ in enumerate(actions):
        response = api.event(action(type_, event_id=f"a{index}"))
        replay = api.event(action(type_, event_id=f"a{index}"))
        assert response.status_code == 200, response.text
        assert [e["points"] for e in response.json()["effects"]] == [10 + index]
        assert replay.headers["idempotent-replayed"] == "true"

    assert api.balances("m1")["available"] == sum(10 + i for i in range(len(actions)))
    api.assert_ledger_clean()


def test_an_action_condition_reads_the_event_data(api: Api) -> None:
    api.client.post(
        "/v1/rules",
        json=bonus("survey.answered", 30, condition="has(event.data.nps) && event.data.nps >= 9"),
    )

    high = api.event(action("survey.answered", "s1", nps=10)).json()
    low = api.event(action("survey.answered", "s2", nps=3)).json()

    assert [e["points"] for e in high["effects"]] == [30]
    assert low["effects"] == [] and low["note"] == "no rule on survey.answered applied"


def test_an_action_event_without_a_rule_is_recorded_and_earns_nothing(api: Api) -> None:
    response = api.event(action("social.shared"))

    assert response.status_code == 200
    assert response.json()["note"] == "no active rule earns on social.shared"
    assert api.member("m1")["balances"]["available"] == 0


def test_an_action_event_must_name_a_member(api: Api) -> None:
    event = {k: v for k, v in action("review.approved").items() if k != "member"}

    assert_problem(api.event(event), 422, "validation_failed", "member")


def test_a_custom_event_name_must_be_well_formed(api: Api) -> None:
    assert_problem(api.event(action("custom.Bad Name")), 422, "unknown_event_type", "type")
    assert_problem(api.event(action("custom.")), 422, "unknown_event_type", "type")


def test_a_retried_action_with_another_body_is_a_conflict(api: Api) -> None:
    api.event(action("review.approved", "a1", stars=5))

    assert_problem(api.event(action("review.approved", "a1", stars=1)), 409, "event_conflict", "id")


# --- simulate ---------------------------------------------------------------------------------


def test_simulate_says_what_each_rule_would_give_and_writes_nothing(api: Api) -> None:
    rule = create(api)
    create(api, name="weekend", schedule={"days_of_week": ["sat", "sun"]})
    before = api.state()

    response = api.client.post("/v1/simulate", json=order())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["points"] == 240
    statuses = {r["rule_id"]: r["status"] for r in body["rules"]}
    assert statuses["base"] == "applied" and statuses[rule["id"]] == "applied"
    assert "outside_schedule" in statuses.values()
    assert all(r["reason"] for r in body["rules"])
    assert body["member_known"] is False
    assert api.state() == before


def test_simulate_without_rules_shows_the_base_rate(api: Api) -> None:
    body = api.client.post("/v1/simulate", json=order()).json()

    assert [(r["rule_id"], r["points"]) for r in body["rules"]] == [("base", 140)]


def test_simulate_an_action_event(api: Api) -> None:
    api.client.post("/v1/rules", json=bonus("review.approved", 25))

    body = api.client.post("/v1/simulate", json=action("review.approved")).json()

    assert body["points"] == 25


def test_simulate_refuses_events_that_earn_nothing_and_bad_input(api: Api) -> None:
    customer = {
        "id": "c1",
        "type": "customer.created",
        "occurred_at": NOW.isoformat(),
        "member": {"external_id": "m1"},
    }
    wrong_currency = order()
    wrong_currency["data"]["currency"] = "EUR"

    assert_problem(api.client.post("/v1/simulate", json=customer), 422, "validation_failed", "type")
    assert_problem(api.client.post("/v1/simulate", json=wrong_currency), 422, "currency_mismatch")
    assert_problem(
        api.client.post("/v1/simulate", json={**order(), "type": "order.shipped"}),
        422,
        "unknown_event_type",
    )
    with client_for(api.shop, {}) as anonymous:
        assert_problem(anonymous.post("/v1/simulate", json=order()), 401, "unauthenticated")


def test_reading_rules_and_simulating_need_the_read_scope(api: Api) -> None:
    with client_for(api.shop, bearer(api.key("write"))) as writer:
        assert_problem(writer.get("/v1/rules"), 403, "forbidden")
        assert_problem(writer.post("/v1/simulate", json=order()), 403, "forbidden")


def test_a_rule_key_reused_for_another_body_is_a_422(api: Api) -> None:
    headers = {"Idempotency-Key": "rule-1"}
    api.client.post("/v1/rules", json=DOUBLE_PETS, headers=headers)

    response = api.client.post("/v1/rules", json={**DOUBLE_PETS, "name": "x"}, headers=headers)

    assert_problem(response, 422, "idempotency_key_conflict")


def test_a_brand_rule_earns_on_the_lines_of_that_brand(api: Api) -> None:
    # given double points on Acme, by line filter and by a condition on the order's brands
    create(
        api,
        name="Double Acme",
        condition='"Acme" in order.brands',
        effect={"kind": "multiplier", "factor": "2", "lines": {"brands": ["Acme"]}},
    )
    lines = [
        {"sku": "A1", "quantity": 1, "unit_price": "100.00", "brand": "Acme"},
        {"sku": "B1", "quantity": 1, "unit_price": "50.00", "brand": "Other"},
    ]
    # when an order with an Acme line and one without a brand are paid
    with_acme = api.event(order("e1", order_id="o1", lines=lines))
    without = api.event(order("e2", order_id="o2", lines=[{**lines[0], "brand": None}]))
    # then the Acme line earns twice (200 + 50), and the unbranded order the base rate
    assert with_acme.status_code == 200, with_acme.text
    assert sum(e["points"] for e in with_acme.json()["effects"]) == 250
    assert sum(e["points"] for e in without.json()["effects"]) == 100
