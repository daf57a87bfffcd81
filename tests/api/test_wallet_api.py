"""HTTP tests: the cashback wallet, GET /v1/members/{id}/wallet and POST .../wallet/spend."""

from __future__ import annotations

from decimal import Decimal

from tests.api.support import Api, assert_problem, bearer, client_for
from tests.conftest import NOW


def fund(api: Api, member: str = "m1", amount: str = "25.00") -> None:
    """Give a member store credit through the service other parts call."""
    from loyalty.services import wallet
    from loyalty.services.lookup import ensure_member

    def work(uow):  # type: ignore[no-untyped-def]
        row, _ = ensure_member(uow, member, {}, NOW)
        return wallet.credit(
            uow, api.shop.ctx, row["id"], Decimal(amount), "goodwill", f"fund-{amount}", NOW
        )

    api.shop.db.run(api.shop.tenant_id, work)


def spend(api: Api, amount: str, reference: str, member: str = "m1", **kwargs: object):  # type: ignore[no-untyped-def]
    return api.client.post(
        f"/v1/members/{member}/wallet/spend",
        json={"amount": amount, "reference": reference},
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_new_member_has_an_empty_wallet(api: Api) -> None:
    api.client.post("/v1/members", json={"external_id": "m1"})

    wallet = api.client.get("/v1/members/m1/wallet").json()

    assert wallet == {"member": "m1", "currency": "PLN", "balance": "0.00", "entries": []}


def test_spending_lowers_the_balance_and_is_recorded(api: Api) -> None:
    fund(api)

    response = spend(api, "10.50", "checkout-1")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["wallet"]["balance"] == "14.50"
    assert (body["entry"]["kind"], body["entry"]["amount"]) == ("debit", "-10.50")
    entries = api.client.get("/v1/members/m1/wallet").json()["entries"]
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        ("debit", "-10.50", "14.50"),
        ("credit", "25.00", "25.00"),
    ]


def test_the_same_reference_spends_once(api: Api) -> None:
    fund(api)

    first = spend(api, "10.00", "checkout-1")
    again = spend(api, "10.00", "checkout-1")

    assert again.status_code == 200
    assert again.json()["entry"]["id"] == first.json()["entry"]["id"]
    assert again.json()["entry"]["replayed"] is True
    assert api.client.get("/v1/members/m1/wallet").json()["balance"] == "15.00"


def test_a_reference_reused_for_another_amount_is_a_conflict(api: Api) -> None:
    fund(api)
    spend(api, "10.00", "checkout-1")

    assert_problem(spend(api, "5.00", "checkout-1"), 409, "wallet_reference_conflict", "reference")


def test_overdrawing_is_refused_and_changes_nothing(api: Api) -> None:
    fund(api, amount="5.00")

    response = spend(api, "5.01", "checkout-1")

    body = assert_problem(response, 409, "insufficient_credit", "amount")
    assert body["balance"] == "5.00"
    assert api.client.get("/v1/members/m1/wallet").json()["balance"] == "5.00"


def test_spending_everything_leaves_zero(api: Api) -> None:
    fund(api, amount="5.00")

    assert spend(api, "5", "all").json()["wallet"]["balance"] == "0.00"


def test_bad_amounts_are_422(api: Api) -> None:
    fund(api)

    assert_problem(spend(api, "0", "r1"), 422, "validation_failed", "amount")
    assert_problem(spend(api, "-1", "r2"), 422, "validation_failed", "amount")
    assert_problem(spend(api, "1.005", "r3"), 422, "validation_failed", "amount")
    assert_problem(spend(api, "abc", "r4"), 422, "validation_failed", "amount")
    response = api.client.post("/v1/members/m1/wallet/spend", json={"amount": "1"})
    assert_problem(response, 422, "validation_failed", "reference")


def test_an_unknown_member_is_a_404(api: Api) -> None:
    assert_problem(api.client.get("/v1/members/ghost/wallet"), 404, "member_not_found")
    assert_problem(spend(api, "1.00", "r1", member="ghost"), 404, "member_not_found")


def test_spending_needs_a_write_key(api: Api) -> None:
    fund(api)
    with client_for(api.shop, bearer(api.key("read"))) as reader:
        assert reader.get("/v1/members/m1/wallet").status_code == 200
        response = reader.post(
            "/v1/members/m1/wallet/spend", json={"amount": "1.00", "reference": "r"}
        )
        assert_problem(response, 403, "forbidden")
    with client_for(api.shop, {}) as anonymous:
        assert_problem(anonymous.get("/v1/members/m1/wallet"), 401, "unauthenticated")


def test_an_idempotency_key_replays_the_spend(api: Api) -> None:
    fund(api)
    headers = {"Idempotency-Key": "k1"}

    first = spend(api, "1.00", "r1", headers=headers)
    again = spend(api, "1.00", "r1", headers=headers)

    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


def test_an_idempotency_key_reused_for_another_spend_is_a_422(api: Api) -> None:
    fund(api)
    headers = {"Idempotency-Key": "k1"}
    spend(api, "1.00", "r1", headers=headers)

    assert_problem(spend(api, "2.00", "r2", headers=headers), 422, "idempotency_key_conflict")
