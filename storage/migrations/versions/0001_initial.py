"""Initial schema: cameras, reads, video_jobs.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Names are wrapped in op.f(): they are final, not templates for the models' naming convention.
# Migrations keep their own copies of the column types: later model changes must not rewrite history.
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if is_postgres():
        # pg_trgm: GIN index for prefix/similarity search; fuzzystrmatch: levenshtein() for fuzzy plates.
        # Both are "trusted" extensions (PG 13+), so a database owner without superuser may create them.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")

    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fps", sa.Float(), nullable=False, server_default="5"),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_frame_at", TIMESTAMP, nullable=True),
        sa.Column("measured_fps", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("name", name=op.f("uq_cameras_name")),
        sa.CheckConstraint("fps > 0", name=op.f("ck_cameras_fps_positive")),
    )

    op.create_table(
        "reads",
        sa.Column("id", BIGINT_ID, autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.Column("frame_id", sa.String(64), nullable=False),
        sa.Column("plate", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("detection_confidence", sa.Float(), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("candidates", JSON, nullable=False),
        sa.Column("box", JSON, nullable=False),
        sa.Column("captured_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("crop_path", sa.String(512), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reads")),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["cameras.id"], name=op.f("fk_reads_camera_id_cameras"), ondelete="SET NULL"
        ),
    )
    op.create_index(op.f("ix_reads_captured_at"), "reads", ["captured_at"])
    op.create_index(op.f("ix_reads_camera_id_captured_at"), "reads", ["camera_id", "captured_at"])
    op.create_index(op.f("ix_reads_plate"), "reads", ["plate"])
    op.create_index(op.f("ix_reads_job_id"), "reads", ["job_id"])
    if is_postgres():
        op.create_index(
            op.f("ix_reads_plate_trgm"),
            "reads",
            ["plate"],
            postgresql_using="gin",
            postgresql_ops={"plate": "gin_trgm_ops"},
        )

    op.create_table(
        "video_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("frames", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reads", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_jobs")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_video_jobs_status_valid")
        ),
    )


def downgrade() -> None:
    op.drop_table("video_jobs")
    if is_postgres():
        op.drop_index(op.f("ix_reads_plate_trgm"), table_name="reads")
    op.drop_index(op.f("ix_reads_job_id"), table_name="reads")
    op.drop_index(op.f("ix_reads_plate"), table_name="reads")
    op.drop_index(op.f("ix_reads_camera_id_captured_at"), table_name="reads")
    op.drop_index(op.f("ix_reads_captured_at"), table_name="reads")
    op.drop_table("reads")
    op.drop_table("cameras")
    # The extensions stay: other schemas in the same database may use them.
