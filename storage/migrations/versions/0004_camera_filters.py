"""Camera plate filters (zones, min_plate_width) and the template policy's verdict on reads (matches_template).

Revision ID: 0004_camera_filters
Revises: 0003_watchlists
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_camera_filters"
down_revision: str | None = "0003_watchlists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Own copies of the column types, as in 0001: later model changes must not rewrite history.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy) on both databases: every new column is nullable or has a default.
    op.add_column("cameras", sa.Column("zones", JSON, server_default=sa.text("'[]'"), nullable=False))
    op.add_column("cameras", sa.Column("min_plate_width", sa.Integer(), server_default="0", nullable=False))
    op.add_column("reads", sa.Column("matches_template", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reads") as batch:  # SQLite before 3.35 cannot DROP COLUMN in place
        batch.drop_column("matches_template")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("min_plate_width")
        batch.drop_column("zones")
