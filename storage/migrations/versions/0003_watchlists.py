"""Watchlists and their entries, webhook targets, alerts (events that matched an entry) and the delivery log.

Revision ID: 0003_watchlists
Revises: 0002_events
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_watchlists"
down_revision: str | None = "0002_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Own copies of the column types, as in 0001: later model changes must not rewrite history.
TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlists")),
        sa.UniqueConstraint("name", name=op.f("uq_watchlists_name")),
    )
    op.create_table(
        "watchlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watchlist_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), server_default="", nullable=False),
        sa.Column("match", sa.String(8), server_default="exact", nullable=False),
        sa.Column("max_distance", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_entries")),
        sa.ForeignKeyConstraint(["watchlist_id"], ["watchlists.id"],
                                name=op.f("fk_watchlist_entries_watchlist_id_watchlists"), ondelete="CASCADE"),
        sa.UniqueConstraint("watchlist_id", "plate", name=op.f("uq_watchlist_entries_watchlist_id_plate")),
        sa.CheckConstraint("match IN ('exact', 'fuzzy')", name=op.f("ck_watchlist_entries_match_valid")),
        sa.CheckConstraint("max_distance >= 0 AND max_distance <= 2",
                           name=op.f("ck_watchlist_entries_max_distance_range")),
    )
    op.create_table(
        "webhook_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(256), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_targets")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("watchlist_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("entry_plate", sa.String(16), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_alerts_event_id_events"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["watchlist_id"], ["watchlists.id"], name=op.f("fk_alerts_watchlist_id_watchlists"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["entry_id"], ["watchlist_entries.id"],
                                name=op.f("fk_alerts_entry_id_watchlist_entries"), ondelete="SET NULL"),
    )
    op.create_index(op.f("ix_alerts_event_id"), "alerts", ["event_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_webhook_deliveries_alert_id_alerts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["webhook_targets.id"],
                                name=op.f("fk_webhook_deliveries_target_id_webhook_targets"), ondelete="SET NULL"),
    )
    op.create_index(op.f("ix_webhook_deliveries_alert_id"), "webhook_deliveries", ["alert_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_deliveries_alert_id"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_alerts_event_id"), table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("webhook_targets")
    op.drop_table("watchlist_entries")
    op.drop_table("watchlists")
