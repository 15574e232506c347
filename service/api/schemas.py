"""REST request/response models (pydantic): the OpenAPI contract of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScoredItemOut(BaseModel):
    item_id: str
    score: float
    categories: list[str] = []


class RecommendationsOut(BaseModel):
    user_id: str
    items: list[ScoredItemOut]
    model_version: str
    personalized: bool
    fallback_reason: str = ""


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(max_length=4096)
    item_id: str = Field(max_length=4096)
    timestamp: float | None = Field(None, description="unix seconds; server time when absent")
    event_type: str = Field("", max_length=64, description="empty: the model's default type")
    value: float | None = None


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn]


class EventErrorOut(BaseModel):
    index: int
    field: str
    message: str


class RecordEventsOut(BaseModel):
    accepted: int
    errors: list[EventErrorOut]


class EventOut(BaseModel):
    user_id: str
    item_id: str
    timestamp: float
    event_type: str
    value: float


class HistoryOut(BaseModel):
    user_id: str
    events: list[EventOut]


class SimilarOut(BaseModel):
    item_id: str
    items: list[ScoredItemOut]
    model_version: str


class TrendingOut(BaseModel):
    items: list[ScoredItemOut]


class ReloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(None, description="bundle folder; default: newest under --bundle")


class ReadyOut(BaseModel):
    ready: bool
    bundle: str
    items: int
    encoder_provider: str
    store: bool
    last_error: str | None = None
