"""Declarative models. The schema itself is owned by the Alembic migrations in `storage/migrations`;
these classes must describe the same tables (tests run the migration, then use these models)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, get_args
from uuid import uuid4

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JobStatus = Literal["queued", "running", "done", "failed"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
PLATE_MAX_LENGTH = 16
# Created by the migration only on Postgres; autogenerate must not expect them elsewhere.
POSTGRES_ONLY_INDEXES = frozenset({"ix_reads_plate_trgm", "ix_events_plate_trgm"})

# Deterministic constraint names, so migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in, timezone-aware UTC datetimes out, on every backend.

    Postgres keeps `timestamptz`; SQLite has no time zones, so values are stored as naive UTC text (fixed
    width, so string order is time order) and UTC is attached again on the way out. Naive input is taken
    to be UTC rather than local time, which would silently shift reads by the server's offset.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on Postgres (compact, indexable later); plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY, not BIGINT.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Camera(Base):
    __tablename__ = "cameras"
    __table_args__ = (CheckConstraint("fps > 0", name="fps_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    url: Mapped[str] = mapped_column(Text)
    fps: Mapped[float] = mapped_column(Float, default=5.0, server_default="5")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Plate filters (pipeline/zones.py): polygons of [x, y] points normalised to 0..1, and a width in pixels.
    zones: Mapped[list[list[list[float]]]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    min_plate_width: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Live status written by the gateway; not part of the configuration (does not bump updated_at).
    connected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_frame_at: Mapped[datetime | None] = mapped_column(default=None)
    measured_fps: Mapped[float | None] = mapped_column(Float, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    def __repr__(self) -> str:
        return f"Camera(id={self.id!r}, name={self.name!r})"


class Read(Base):
    __tablename__ = "reads"
    __table_args__ = (
        Index("ix_reads_captured_at", "captured_at"),
        Index("ix_reads_camera_id_captured_at", "camera_id", "captured_at"),
        Index("ix_reads_plate", "plate"),
        Index("ix_reads_job_id", "job_id"),
        Index("ix_reads_event_id", "event_id"),
        # Trigram index for prefix (LIKE 'AB%') and similarity searches; the extension only exists on Postgres.
        Index("ix_reads_plate_trgm", "plate", postgresql_using="gin", postgresql_ops={"plate": "gin_trgm_ops"}).ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # Reads outlive their camera: deleting a camera keeps its history, unattributed.
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"), default=None)
    job_id: Mapped[str | None] = mapped_column(String(32), default=None)
    frame_id: Mapped[str] = mapped_column(String(64))
    plate: Mapped[str] = mapped_column(String(PLATE_MAX_LENGTH))
    confidence: Mapped[float] = mapped_column(Float)
    detection_confidence: Mapped[float] = mapped_column(Float)
    region: Mapped[str] = mapped_column(String(32))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    box: Mapped[dict[str, int]] = mapped_column(JSONType)
    captured_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    crop_path: Mapped[str | None] = mapped_column(String(512), default=None)
    # The template policy's verdict (PLATESTREAM_TEMPLATE_POLICY); NULL when it is off or no template applies.
    matches_template: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # The vehicle pass this read was voted into; set by the worker when the pass ends.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), default=None)

    def __repr__(self) -> str:
        return f"Read(id={self.id!r}, plate={self.plate!r}, captured_at={self.captured_at!r})"


class Event(Base):
    """One vehicle pass on a camera: the vote over the reads of one track (`reads.event_id` points here)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_last_seen", "last_seen"),
        Index("ix_events_camera_id_last_seen", "camera_id", "last_seen"),
        Index("ix_events_plate", "plate"),
        Index("ix_events_plate_trgm", "plate", postgresql_using="gin",
              postgresql_ops={"plate": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"), default=None)
    plate: Mapped[str] = mapped_column(String(PLATE_MAX_LENGTH))
    confidence: Mapped[float] = mapped_column(Float)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column()
    frames: Mapped[int] = mapped_column(Integer)
    # No foreign key: the read is a hint for the crop, and events must not depend on reads' retention.
    best_read_id: Mapped[int | None] = mapped_column(BigIntId, default=None)
    best_crop_path: Mapped[str | None] = mapped_column(String(512), default=None)
    region: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, plate={self.plate!r}, last_seen={self.last_seen!r})"


class VideoJob(Base):
    __tablename__ = "video_jobs"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_valid"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid4().hex)
    filename: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    frames: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reads: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    def __repr__(self) -> str:
        return f"VideoJob(id={self.id!r}, status={self.status!r})"


# --- watchlists and alerts (storage/watchlists.py, workers/alerts.py) ---------------------------------------

MatchKind = Literal["exact", "fuzzy"]
MAX_FUZZY_DISTANCE = 2  # beyond two edits, most short plates match far too many others


class Watchlist(Base):
    __tablename__ = "watchlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WatchlistEntry(Base):
    __tablename__ = "watchlist_entries"
    __table_args__ = (
        UniqueConstraint("watchlist_id", "plate", name="uq_watchlist_entries_watchlist_id_plate"),
        CheckConstraint("match IN ('exact', 'fuzzy')", name="match_valid"),
        CheckConstraint(f"max_distance >= 0 AND max_distance <= {MAX_FUZZY_DISTANCE}", name="max_distance_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(ForeignKey("watchlists.id", ondelete="CASCADE"))
    plate: Mapped[str] = mapped_column(String(PLATE_MAX_LENGTH))
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    match: Mapped[str] = mapped_column(String(8), default="exact", server_default="exact")
    max_distance: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WebhookTarget(Base):
    """A receiver of every alert (global, not per watchlist: one integration usually wants them all)."""

    __tablename__ = "webhook_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(256))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """An event that matched a watchlist entry. Plate and label are copied: alerts outlive edited lists."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_event_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    watchlist_id: Mapped[int | None] = mapped_column(ForeignKey("watchlists.id", ondelete="SET NULL"), default=None)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("watchlist_entries.id", ondelete="SET NULL"),
                                                 default=None)
    plate: Mapped[str] = mapped_column(String(PLATE_MAX_LENGTH))  # the event's (read) plate
    entry_plate: Mapped[str] = mapped_column(String(PLATE_MAX_LENGTH))
    label: Mapped[str] = mapped_column(String(200), default="")
    distance: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One attempt to POST an alert to a webhook target: the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_alert_id", "alert_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_targets.id", ondelete="SET NULL"),
                                                  default=None)
    attempt: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
