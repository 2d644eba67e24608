"""API shapes of watchlists, webhook targets, alerts and deliveries (pydantic), shared by the HTTP API, the
live feed, MQTT and the webhook bodies. Input models reject bad entries with a 422 and a message."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from storage.models import MAX_FUZZY_DISTANCE, PLATE_MAX_LENGTH
from storage.reads import normalize_plate
from storage.schemas import event_payload
from storage.watchlists import EntrySpec

MIN_SECRET_LENGTH = 16  # shorter HMAC keys can be guessed; receivers could not trust the signature


class EntryIn(BaseModel):
    plate: str = Field(min_length=1, max_length=64, description="any case and separators; stored as A-Z0-9")
    label: str = Field("", max_length=200)
    match: Literal["exact", "fuzzy"] = "exact"
    max_distance: int | None = Field(None, ge=0, le=MAX_FUZZY_DISTANCE,
                                     description="edits allowed by a fuzzy entry (default 1); exact entries: 0")

    @field_validator("plate")
    @classmethod
    def plate_text(cls, value: str) -> str:
        plate = normalize_plate(value)
        if not plate:
            raise ValueError("plate must contain at least one letter or digit")
        if len(plate) > PLATE_MAX_LENGTH:
            raise ValueError(f"plate must have at most {PLATE_MAX_LENGTH} letters and digits")
        return plate

    @model_validator(mode="after")
    def distance_fits_match(self) -> EntryIn:
        if self.max_distance is None:
            self.max_distance = 1 if self.match == "fuzzy" else 0
        elif self.match == "exact" and self.max_distance:
            raise ValueError("max_distance applies to fuzzy entries only; use 0 (or omit it) for exact entries")
        return self

    def spec(self) -> EntrySpec:
        return EntrySpec(self.plate, self.label, self.match, self.max_distance or 0)


def unique_plates(entries: list[EntryIn]) -> list[EntryIn]:
    plates = [e.plate for e in entries]
    duplicates = sorted({p for p in plates if plates.count(p) > 1})
    if duplicates:
        raise ValueError(f"plates listed more than once: {', '.join(duplicates)}")
    return entries


def name_text(value: str) -> str:
    if not value.strip():
        raise ValueError("name must not be blank")
    return value.strip()


Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(name_text)]
Entries = Annotated[list[EntryIn], Field(max_length=10_000), AfterValidator(unique_plates)]


class WatchlistIn(BaseModel):
    name: Name
    entries: Entries = Field(default_factory=list)


class WatchlistPatch(BaseModel):
    name: Name | None = None
    entries: Entries | None = Field(None, description="replaces every entry when given")


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plate: str
    label: str
    match: str
    max_distance: int


class WatchlistOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    entries: list[EntryOut]


def check_webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an http:// or https:// URL with a host")
    return value


WebhookUrl = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(check_webhook_url)]
Secret = Annotated[str, Field(min_length=MIN_SECRET_LENGTH, max_length=256,
                              description="HMAC-SHA256 key of the X-Platestream-Signature header")]


class WebhookIn(BaseModel):
    url: WebhookUrl
    secret: Secret
    enabled: bool = True


class WebhookPatch(BaseModel):
    url: WebhookUrl | None = None
    secret: Secret | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    """The secret is write-only: it never leaves the service except as signatures."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    enabled: bool
    created_at: datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    watchlist_id: int | None
    entry_id: int | None
    plate: str
    entry_plate: str
    label: str
    distance: int
    created_at: datetime


def alert_payload(alert: Any, event: Any | None = None) -> dict[str, Any]:
    """JSON-ready alert; with its event embedded when given (feed, MQTT and webhook messages)."""
    out = AlertOut.model_validate(alert).model_dump(mode="json")
    if event is not None:
        out["event"] = event_payload(event)
    return out


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    target_id: int | None
    attempt: int
    succeeded: bool
    status_code: int | None
    error: str | None
    created_at: datetime
