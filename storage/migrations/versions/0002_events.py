"""Events: one row per vehicle pass, voted from the reads of one track; reads.event_id refers to it.

Revision ID: 0002_events
Revises: 0001
Create Date: 2025-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_events"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Own copies of the column types, as in 0001: later model changes must not rewrite history.
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("candidates", JSON, nullable=False),
        sa.Column("first_seen", TIMESTAMP, nullable=False),
        sa.Column("last_seen", TIMESTAMP, nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("best_read_id", BIGINT_ID, nullable=True),
        sa.Column("best_crop_path", sa.String(512), nullable=True),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_events_camera_id_cameras"), ondelete="SET NULL"
        ),
    )
    op.create_index(op.f("ix_events_last_seen"), "events", ["last_seen"])
    op.create_index(op.f("ix_events_camera_id_last_seen"), "events", ["camera_id", "last_seen"])
    op.create_index(op.f("ix_events_plate"), "events", ["plate"])
    if is_postgres():
        op.create_index(
            op.f("ix_events_plate_trgm"),
            "events",
            ["plate"],
            postgresql_using="gin",
            postgresql_ops={"plate": "gin_trgm_ops"},
        )

    # SQLite cannot add a foreign key to an existing table: batch mode copies `reads` into a new table with it
    # (indexes and the camera foreign key are reflected and recreated). Postgres gets a plain ALTER TABLE.
    with op.batch_alter_table("reads") as batch:
        batch.create_foreign_key(
            op.f("fk_reads_event_id_events"), "events", ["event_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_reads_event_id"), ["event_id"])


def downgrade() -> None:
    with op.batch_alter_table("reads") as batch:
        batch.drop_index(op.f("ix_reads_event_id"))
        batch.drop_constraint(op.f("fk_reads_event_id_events"), type_="foreignkey")
    if is_postgres():
        op.drop_index(op.f("ix_events_plate_trgm"), table_name="events")
    op.drop_index(op.f("ix_events_plate"), table_name="events")
    op.drop_index(op.f("ix_events_camera_id_last_seen"), table_name="events")
    op.drop_index(op.f("ix_events_last_seen"), table_name="events")
    op.drop_table("events")
