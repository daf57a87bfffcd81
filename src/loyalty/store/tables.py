"""The schema. Every table carries ``tenant_id``; keys lead with it so Citus can shard by tenant."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from loyalty.store.types import Id, Money, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("currency", String(3), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("member_token_secret", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

programs = Table(
    "programs",
    metadata,
    Column("tenant_id", ForeignKey("tenants.id"), primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("email", String(320)),
    Column("phone", String(20)),
    Column("first_name", String(200)),
    Column("last_name", String(200)),
    Column("birthday", Date),
    Column("locale", String(16)),
    Column("consents", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("available", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("lifetime_earned", Integer, nullable=False),
    Column("debt", Integer, nullable=False),
    Column("last_activity_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "external_id", name="uq_members_tenant_external"),
    CheckConstraint("pending >= 0", name="pending_not_negative"),
    CheckConstraint("debt >= 0", name="debt_not_negative"),
    CheckConstraint("available >= -debt", name="no_overdraft"),
    Index("ix_members_tenant_email", "tenant_id", "email"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("points", Integer, nullable=False),
    Column("available_delta", Integer, nullable=False),
    Column("pending_delta", Integer, nullable=False),
    Column("lifetime_delta", Integer, nullable=False),
    Column("lot_id", Id),
    Column("order_pk", Id),
    Column("refund_id", String(200)),
    Column("event_pk", Id),
    Column("reason", String(500), nullable=False),
    Column("actor", String(200)),
    Column("rule_id", Id),
    Column("rule_version", Integer),
    Column("meta", JSON),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_entries_member", "tenant_id", "member_id", "id"),
    Index(
        "ix_entries_order",
        "order_pk",
        sqlite_where=text("order_pk IS NOT NULL"),
        postgresql_where=text("order_pk IS NOT NULL"),
    ),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("remaining", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("earned_at", UtcDateTime, nullable=False),
    Column("available_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("expiry_notice_at", UtcDateTime),  # when points.expiring_soon went out for it
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_bounds"),
    # The job indexes are partial, so a status change touches one index entry, not three.
    Index("ix_lots_member", "tenant_id", "member_id"),
    Index(
        "ix_lots_due_release",
        "available_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(
        "ix_lots_due_expiry",
        "expires_at",
        sqlite_where=text("status = 'available' AND expires_at IS NOT NULL"),
        postgresql_where=text("status = 'available' AND expires_at IS NOT NULL"),
    ),
)

allocations = Table(
    "allocations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("entry_id", Id, nullable=False, index=True),
    Column("lot_id", Id, nullable=False, index=True),
    Column("points", Integer, nullable=False),
    CheckConstraint("points > 0", name="points_positive"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("order_id", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", Money, nullable=False),
    Column("shipping", Money, nullable=False),
    Column("tax", Money, nullable=False),
    Column("base", Money, nullable=False),
    Column("lines", JSON, nullable=False),
    Column("points_earned", Integer, nullable=False),
    Column("points_reversed", Integer, nullable=False),
    Column("status", String(24), nullable=False),
    Column("refunded_amount", Money, nullable=False),
    Column("refunded_base", Money, nullable=False),
    Column("refunded_quantities", JSON, nullable=False),
    Column("paid_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "order_id", name="uq_orders_tenant_order"),
    Index("ix_orders_member", "tenant_id", "member_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("order_pk", Id, nullable=False),
    Column("refund_id", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("amount", Money, nullable=False),
    Column("base", Money, nullable=False),
    Column("points_reversed", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "order_pk", "refund_id", name="uq_refunds_tenant_order_refund"),
)

inbox_events = Table(
    "inbox_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("type", String(64), nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("response", JSON),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "source", "event_id", name="uq_inbox_tenant_source_event"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", ForeignKey("tenants.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200)),
    Column("data", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_audit_tenant", "tenant_id", "id"),
)

# --- outbox and outbound webhooks (ARCHITECTURE.md decision 7) ----------------------------

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("type", String(64), nullable=False),
    Column("member_external_id", String(200)),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("dispatched_at", UtcDateTime),
    Index(
        "ix_outbox_undispatched",
        "id",
        sqlite_where=text("dispatched_at IS NULL"),
        postgresql_where=text("dispatched_at IS NULL"),
    ),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("description", String(500)),
    Column("active", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("subscription_id", Id, nullable=False),
    Column("outbox_id", Id, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("ordering_key", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime),
    UniqueConstraint("subscription_id", "outbox_id", name="uq_deliveries_subscription_outbox"),
    Index("ix_deliveries_subscription", "tenant_id", "subscription_id", "id"),
    Index(
        "ix_deliveries_pending",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_deliveries_ordering", "subscription_id", "ordering_key", "status"),
)

# --- background imports --------------------------------------------------------------------

imports = Table(
    "imports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("filename", String(300), nullable=False),
    Column("earn", Integer, nullable=False),
    Column("mapping", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("report", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Index("ix_imports_tenant", "tenant_id", "id"),
)

# --- store connectors (inbound webhooks) ---------------------------------------------------

connectors = Table(
    "connectors",
    metadata,
    Column("tenant_id", ForeignKey("tenants.id"), primary_key=True),
    Column("platform", String(32), primary_key=True),
    Column("secrets", Text, nullable=False),  # encrypted with the server's secret key
    Column("guest_matching", Integer, nullable=False),
    Column("enabled", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # platform options: Saleor's api_url, the checkout / referral field names (null: defaults)
    Column("settings", JSON),
)

guest_orders = Table(
    "guest_orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("email", String(320)),
    Column("event", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(200)),
    Column("claimed_at", UtcDateTime),
    UniqueConstraint("tenant_id", "platform", "event_id", name="uq_guest_orders_event"),
    Index("ix_guest_orders_email", "tenant_id", "email"),
)

# Rows of orders and guest orders changed after they were recorded (refunds, cancellations,
# claims): the columnar analytics read model re-reads them (services/program_snapshot.py).
# Append-only; new rows are found by id, so recording an order writes nothing here.
analytics_changes = Table(
    "analytics_changes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("source", String(16), nullable=False),  # 'order' | 'guest_order'
    Column("row_pk", Id, nullable=False),
    Index("ix_analytics_changes_tenant", "tenant_id", "id"),
)

# --- customer profiles (refreshed by a job; analytics read model) -------------------------

member_profiles = Table(
    "member_profiles",
    metadata,
    Column("member_id", Id, primary_key=True),
    Column("tenant_id", Id, nullable=False),
    Column("orders", Integer, nullable=False),
    Column("purchase_days", Integer, nullable=False),
    Column("spend", Money, nullable=False),
    Column("aov", Money, nullable=False),
    Column("first_order_at", Date),
    Column("last_order_at", Date),
    Column("days_since_last_order", Integer),
    Column("favourite_category", String(200)),
    Column("category_shares", JSON, nullable=False),
    Column("rfm_recency", Integer),
    Column("rfm_frequency", Integer),
    Column("rfm_monetary", Integer),
    Column("rfm_segment", String(32)),
    Column("lifecycle_stage", String(16)),
    Column("predicted_orders_12m", Float),
    Column("predicted_clv_12m", Money),
    Column("probability_alive", Float),
    Column("refreshed_at", UtcDateTime, nullable=False),
    Index("ix_profiles_tenant_segment", "tenant_id", "rfm_segment"),
)

# --- referrals ----------------------------------------------------------------------------

referral_settings = Table(
    "referral_settings",
    metadata,
    Column("tenant_id", ForeignKey("tenants.id"), primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

referral_codes = Table(
    "referral_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("member_id", Id, nullable=False),
    Column("code", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "member_id", name="uq_referral_codes_member"),
    UniqueConstraint("tenant_id", "code", name="uq_referral_codes_code"),
)

referrals = Table(
    "referrals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("referrer_id", Id, nullable=False),
    Column("referee_id", Id, nullable=False),
    Column("code", String(40), nullable=False),
    Column("source", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(200)),
    Column("findings", JSON, nullable=False),
    Column("attributed_at", UtcDateTime, nullable=False),
    Column("first_order_id", String(200)),
    Column("first_order_at", UtcDateTime),
    Column("qualifies_at", UtcDateTime),
    Column("qualified_at", UtcDateTime),
    Column("welcome_code", String(64)),
    Column("welcome_cancelled", Boolean, nullable=False),
    Column("referrer_points", Integer),
    Column("reward_lot_id", Id),
    Column("reward_entry_id", Id),
    Column("rewarded_at", UtcDateTime),
    Column("closed_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "welcome_code", name="uq_referrals_welcome_code"),
    Index("ix_referrals_referee", "tenant_id", "referee_id"),
    # A referee has at most one referral that is not rejected: the backstop for the rule.
    Index(
        "uq_referrals_live_referee",
        "tenant_id",
        "referee_id",
        unique=True,
        sqlite_where=text("status <> 'rejected'"),
        postgresql_where=text("status <> 'rejected'"),
    ),
    Index("ix_referrals_first_order", "tenant_id", "first_order_id"),
    Index("ix_referrals_referrer", "tenant_id", "referrer_id", "attributed_at"),
    Index("ix_referrals_status", "tenant_id", "status", "id"),
    Index(
        "ix_referrals_due",
        "qualifies_at",
        postgresql_where=text("status = 'pending' AND qualifies_at IS NOT NULL"),
        sqlite_where=text("status = 'pending' AND qualifies_at IS NOT NULL"),
    ),
)

# What the store told us about a member that the self-referral checks compare: hashed device
# ids and IPs as the store sent them, and normalised shipping addresses (never raw ones).
member_signals = Table(
    "member_signals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("member_id", Id, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", String(300), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "member_id", "kind", "value", name="uq_member_signals_value"),
    Index("ix_member_signals_value", "tenant_id", "kind", "value"),
)

# --- tiers and paid membership (C4) --------------------------------------------------------

tier_ladders = Table(  # append-only: each edit is a new version; the highest one is in force
    "tier_ladders",
    metadata,
    Column("tenant_id", ForeignKey("tenants.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

member_tiers = Table(
    "member_tiers",
    metadata,
    Column("member_id", Id, primary_key=True),
    Column("tenant_id", Id, nullable=False),
    Column("tier", String(64)),
    Column("since", UtcDateTime),
    Column("review_at", UtcDateTime),
    Column("check_at", UtcDateTime),  # when the review job must look again (review, grace, floor)
    Column("manual_tier", String(64)),
    Column("manual_until", UtcDateTime),
    Column("manual_set_at", UtcDateTime),
    Column("manual_set_by", String(200)),
    Column("manual_note", String(500)),
    Column("ladder_version", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_member_tiers_tenant_tier", "tenant_id", "tier"),
    Index(
        "ix_member_tiers_check",
        "tenant_id",
        "check_at",
        sqlite_where=text("check_at IS NOT NULL"),
        postgresql_where=text("check_at IS NOT NULL"),
    ),
)

tier_history = Table(  # append-only, like the ledger
    "tier_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("member_id", Id, nullable=False),
    Column("from_tier", String(64)),
    Column("to_tier", String(64)),
    Column("reason", String(16), nullable=False),
    Column("effective_at", UtcDateTime, nullable=False),
    Column("ladder_version", Integer, nullable=False),
    Column("actor", String(200)),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_tier_history_member", "tenant_id", "member_id", "id"),
)

membership_plans = Table(
    "membership_plans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_membership_plans_tenant", "tenant_id", "id"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("membership_id", String(200), nullable=False),
    Column("member_id", Id, nullable=False),
    Column("plan_id", Id, nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "membership_id", name="uq_memberships_tenant_membership"),
    Index("ix_memberships_member", "tenant_id", "member_id"),
    Index(
        "ix_memberships_due",
        "ends_at",
        sqlite_where=text("status <> 'expired'"),
        postgresql_where=text("status <> 'expired'"),
    ),
)

membership_history = Table(  # append-only
    "membership_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("membership_pk", Id, nullable=False),
    Column("event", String(32), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("source", String(200), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_membership_history_membership", "tenant_id", "membership_pk", "id"),
)

# --- rewards catalogue, redemptions, coupons ----------------------------------------------

rewards = Table(
    "rewards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("reward_id", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("data", JSON, nullable=False),  # Reward.to_dict() of the current version
    Column("stock", Integer),  # units that may ever be redeemed; NULL: unlimited
    Column("stock_left", Integer),  # decremented atomically by each redemption
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "reward_id", name="uq_rewards_tenant_reward"),
    CheckConstraint("stock_left >= 0 AND stock_left <= stock", name="stock_left_in_bounds"),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("reward_id", String(100), nullable=False),
    Column("reward_version", Integer, nullable=False),
    Column("reward", JSON, nullable=False),  # the reward as it was when redeemed
    Column("points", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # completed | cancelled
    Column("entry_id", Id),  # the ledger entry that spent the points
    Column("restore_entry_id", Id),  # the ledger entry that gave them back
    Column("coupon_code", String(64)),
    Column("fulfilment", JSON),  # physical gifts: Fulfilment as a dict
    Column("created_at", UtcDateTime, nullable=False),
    Column("cancelled_at", UtcDateTime),
    Index("ix_redemptions_member", "tenant_id", "member_id", "reward_id", "created_at"),
)

coupon_batches = Table(
    "coupon_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("batch_id", String(100), nullable=False),
    Column("data", JSON, nullable=False),  # CouponBatch.to_dict()
    Column("count", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "batch_id", name="uq_coupon_batches_tenant_batch"),
)

coupons = Table(
    "coupons",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("member_id", Id),  # owner; NULL: anyone holding the code
    Column("reward_id", String(100)),
    Column("redemption_id", Id),
    Column("batch_pk", Id),
    Column("promotion_id", String(200)),
    Column("max_uses", Integer, nullable=False),
    Column("uses", Integer, nullable=False),
    Column("once_per_member", Integer, nullable=False),
    Column("holds", JSON, nullable=False),  # checkout reservations: [{checkout_id, until}]
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "code", name="uq_coupons_tenant_code"),
    CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses_in_bounds"),
    Index("ix_coupons_batch", "tenant_id", "batch_pk", "id"),
    Index(
        "ix_coupons_due_expiry",
        "expires_at",
        sqlite_where=text("status IN ('issued', 'reserved') AND expires_at IS NOT NULL"),
        postgresql_where=text("status IN ('issued', 'reserved') AND expires_at IS NOT NULL"),
    ),
)

coupon_uses = Table(
    "coupon_uses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("coupon_id", Id, nullable=False),
    Column("batch_pk", Id),
    Column("member_id", Id),
    Column("order_id", String(200), nullable=False),
    Column("used_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "coupon_id", "order_id", name="uq_coupon_uses_order"),
    Index("ix_coupon_uses_member", "tenant_id", "member_id", "batch_pk"),
)

coupon_status_history = Table(
    "coupon_status_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("coupon_id", Id, nullable=False),
    Column("from_status", String(16)),  # NULL: issued
    Column("to_status", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("detail", JSON),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_coupon_history_coupon", "tenant_id", "coupon_id", "id"),
)

# Points a cancelled spend gave back to the very lots it drew from (the opposite of an
# allocation row; rows are only inserted).
lot_returns = Table(
    "lot_returns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("entry_id", Id, nullable=False, index=True),  # the restore entry
    Column("spend_entry_id", Id, nullable=False),
    Column("lot_id", Id, nullable=False, index=True),
    Column("points", Integer, nullable=False),
    UniqueConstraint("spend_entry_id", "lot_id", name="uq_lot_returns_spend_lot"),
    CheckConstraint("points > 0", name="points_positive"),
)

# --- segments (rule, static and built-in; materialised by a job) --------------------------

segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("key", String(64), nullable=False),  # the id callers use: "cat-lovers"
    Column("name", String(200), nullable=False),
    Column("description", String(1000)),
    Column("kind", String(16), nullable=False),
    Column("rule", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "key", name="uq_segments_tenant_key"),
)

segment_memberships = Table(
    "segment_memberships",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("segment_key", String(64), primary_key=True),
    Column("member_id", Id, primary_key=True),
    Column("entered_at", UtcDateTime, nullable=False),
    Index("ix_segment_memberships_member", "tenant_id", "member_id"),
)

segment_history = Table(
    "segment_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("segment_key", String(64), nullable=False),
    Column("member_id", Id, nullable=False),
    Column("change", String(8), nullable=False),  # entered | left
    Column("at", UtcDateTime, nullable=False),
    Index("ix_segment_history_segment", "tenant_id", "segment_key", "id"),
    Index("ix_segment_history_member", "tenant_id", "member_id"),
)

# --- feedback: surveys and their responses -------------------------------------------------

surveys = Table(
    "surveys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # nps | csat | custom
    Column("question", String(1000), nullable=False),
    Column("active", Integer, nullable=False),
    Column("min_score", Integer, nullable=False),
    Column("max_score", Integer, nullable=False),
    Column("after_order", Integer, nullable=False),  # post-purchase: responses name an order
    Column("delay_days", Integer),  # post-purchase: invite this many days after payment
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_surveys_tenant", "tenant_id", "id"),
)

survey_responses = Table(
    "survey_responses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("survey_id", Id, nullable=False),
    Column("response_id", String(200), nullable=False),  # the caller's id, for idempotency
    Column("member_id", Id, nullable=False),
    Column("order_key", String(200), nullable=False),  # order id, or "" when not per order
    Column("score", Integer, nullable=False),
    Column("comment", Text),
    Column("request_hash", String(64), nullable=False),
    Column("answered_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "survey_id", "response_id", name="uq_responses_response_id"),
    UniqueConstraint(
        "tenant_id", "survey_id", "member_id", "order_key", name="uq_responses_member_order"
    ),
    Index("ix_responses_survey_time", "tenant_id", "survey_id", "answered_at"),
)

survey_invitations = Table(
    "survey_invitations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("survey_id", Id, nullable=False),
    Column("member_id", Id, nullable=False),
    Column("order_pk", Id, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "survey_id", "order_pk", name="uq_invitations_survey_order"),
)

# --- promotions and checkouts (cart evaluation, reserved codes and points) -----------------

promotions = Table(
    "promotions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("promotion_id", String(200), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("data", JSON, nullable=False),  # Promotion.to_dict() of the current version
    Column("version", Integer, nullable=False),
    Column("active", Integer, nullable=False),
    Column("usage_limit", Integer),  # orders that may use it, all members together
    Column("usage_limit_per_member", Integer),
    Column("budget", Money),  # the most it may give away in total, in its currency
    Column("code_uses", Integer),  # uses per code: 1 = single use, NULL = unlimited
    Column("uses", Integer, nullable=False),
    Column("budget_spent", Money, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
    # held by open checkouts (migration 0015): counted as taken until committed or released
    Column("reserved_uses", Integer, nullable=False, server_default="0"),
    Column("reserved_budget", Money, nullable=False, server_default="0"),
    UniqueConstraint("tenant_id", "promotion_id", name="uq_promotions_tenant_promotion"),
    CheckConstraint("uses >= 0", name="uses_not_negative"),
)

promotion_codes = Table(
    "promotion_codes",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("code", String(100), primary_key=True),  # normalised: trimmed, upper case
    Column("promotion_pk", Id, nullable=False, index=True),
    Column("max_uses", Integer),
    Column("uses", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),  # held by open checkouts
    CheckConstraint("uses >= 0 AND reserved >= 0", name="counts_not_negative"),
    CheckConstraint("max_uses IS NULL OR uses + reserved <= max_uses", name="within_max_uses"),
)

promotion_member_usage = Table(
    "promotion_member_usage",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("promotion_pk", Id, primary_key=True),
    Column("member_id", Id, primary_key=True),
    Column("uses", Integer, nullable=False),
    Column("reserved", Integer, nullable=False, server_default="0"),  # held by open checkouts
    CheckConstraint("uses >= 0", name="uses_not_negative"),
)

checkouts = Table(
    "checkouts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("checkout_id", String(200), nullable=False),
    Column("member_id", Id),
    Column("status", String(16), nullable=False),  # reserved, committed, released
    Column("codes", JSON, nullable=False),  # [{code, promotion_pk}] holding a reservation
    Column("promotions", JSON, nullable=False),  # [{promotion_pk, discount}] applied
    Column("points", Integer, nullable=False),  # points held as payment
    Column("hold_entry_id", Id),  # the ledger entry that took them
    Column("draws", JSON, nullable=False),  # [{lot_id, points, expires_at}] they came from
    Column("order_pk", Id),
    Column("release_reason", String(32)),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "checkout_id", name="uq_checkouts_tenant_checkout"),
    Index("ix_checkouts_order", "tenant_id", "order_pk"),
    Index(
        "ix_checkouts_due",
        "expires_at",
        sqlite_where=text("status = 'reserved'"),
        postgresql_where=text("status = 'reserved'"),
    ),
)

# --- earning rules, their counters, and the cashback wallet (issue 3, C3) ------------------

earning_rules = Table(
    "earning_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", ForeignKey("tenants.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("trigger", String(80), nullable=False),
    Column("definition", JSON, nullable=False),  # the current version, as EarningRule.to_dict()
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
    Index("ix_earning_rules_tenant", "tenant_id", "id"),
)

earning_rule_versions = Table(
    "earning_rule_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("rule_id", Id, nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("tenant_id", "rule_id", "version", name="uq_rule_versions_rule_version"),
)

# One row per tenant that has ever had a rule; ``version`` moves on every rule change, so a
# process can tell in one primary-key read whether its cached rule set is still current.
rule_sets = Table(
    "rule_sets",
    metadata,
    Column("tenant_id", ForeignKey("tenants.id"), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("active_rules", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

rule_usage = Table(
    "rule_usage",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("member_id", Id, primary_key=True),
    Column("rule_id", Id, primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("period_key", String(16), primary_key=True),
    Column("points", Integer, nullable=False),
    Column("times", Integer, nullable=False),
)

rule_budgets = Table(
    "rule_budgets",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("rule_id", Id, primary_key=True),
    Column("spent", Integer, nullable=False),
    CheckConstraint("spent >= 0", name="spent_not_negative"),
)

rule_stamps = Table(
    "rule_stamps",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("member_id", Id, primary_key=True),
    Column("rule_id", Id, primary_key=True),
    Column("stamps", Integer, nullable=False),
    Column("cards_completed", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

rule_failures = Table(
    "rule_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("rule_id", Id, nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("event_pk", Id),
    Column("event_type", String(80), nullable=False),
    Column("error", String(500), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_rule_failures_rule", "tenant_id", "rule_id", "id"),
)

# When a member's birthday was last set or changed (a change < 30 days before earns nothing).
birthday_changes = Table(
    "birthday_changes",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("member_id", Id, primary_key=True),
    Column("changed_on", Date, nullable=False),
)

# Store credit (cashback): balance cached per member, entries append-only. The balance goes
# below zero only when a refund takes back cashback already spent under the programme's
# ``negative_balance`` clawback (0013); spending and debits never overdraw it.
wallets = Table(
    "wallets",
    metadata,
    Column("tenant_id", Id, primary_key=True),
    Column("member_id", Id, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("balance", Money, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

wallet_entries = Table(
    "wallet_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("tenant_id", Id, nullable=False),
    Column("member_id", Id, nullable=False),
    Column("kind", String(8), nullable=False),  # credit | debit | reverse
    Column("amount", Money, nullable=False),  # signed: debits are negative
    Column("balance_after", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("rule_id", Id),
    Column("rule_version", Integer),
    Column("event_pk", Id),
    Column("created_at", UtcDateTime, nullable=False),
    Column("order_pk", Id),  # the order whose cashback this credits or takes back (0013)
    Column("meta", JSON),  # a reversal's clawback: what it reverses, owed, written off (0013)
    UniqueConstraint(
        "tenant_id", "member_id", "kind", "reference", name="uq_wallet_entries_reference"
    ),
    Index("ix_wallet_entries_member", "tenant_id", "member_id", "id"),
    Index("ix_wallet_entries_order", "tenant_id", "order_pk"),
)
