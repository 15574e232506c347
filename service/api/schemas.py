"""REST request/response models (pydantic): the OpenAPI contract of the HTTP API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from service.core.validation import CATEGORY_PATTERN


class ExplainedItemOut(BaseModel):
    item_id: str
    weight: float


class ExplanationOut(BaseModel):
    kind: str = Field(description="additive | attention | leave-one-out")
    items: list[ExplainedItemOut]
    rest: float | None = Field(
        None, description="additive: the part of the score no history item explains"
    )


class ScoredItemOut(BaseModel):
    item_id: str
    score: float
    categories: list[str] = []
    explanation: ExplanationOut | None = None


class RecommendationsOut(BaseModel):
    user_id: str
    items: list[ScoredItemOut]
    model_version: str
    personalized: bool
    fallback_reason: str = ""


class EventIn(BaseModel):
    # strict: a boolean is not a number, a number is not a string
    model_config = ConfigDict(extra="forbid", strict=True)

    # a bad id is a per-event error of a 200 answer (the other events are kept)
    user_id: str = Field(max_length=4096)
    item_id: str = Field(max_length=4096)
    timestamp: float | None = Field(None, description="unix seconds; server time when absent")
    event_type: str = Field("", max_length=64, description="empty: the model's default type")
    value: float | None = None
    event_id: str = Field(
        "",
        max_length=4096,
        description="the client's id of the event: a retry of an id the user's stored events "
        "already hold is acknowledged, stored and counted once",
    )


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn]


class EventErrorOut(BaseModel):
    index: int
    field: str
    message: str


class RecordEventsOut(BaseModel):
    accepted: int = Field(description="valid events acknowledged, retries included")
    errors: list[EventErrorOut]
    duplicates: int = Field(0, description="of those, retries of an event_id already stored")


def item_in(max_length: int) -> type[BaseModel]:
    """The body of ``PUT /v1/items/{id}``, its limits the server's (``max_id_length``),
    so what the schema allows is what the server takes."""
    category = Annotated[str, Field(pattern=CATEGORY_PATTERN, max_length=max_length)]
    text = Annotated[str, Field(max_length=max_length)]

    class ItemIn(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)

        categories: list[category] = Field(default_factory=list, max_length=100)
        attributes: dict[text, text] = Field(
            default_factory=dict,
            max_length=100,
            description="other metadata columns, as the training data's item features name "
            "them; 'categories' here adds its |-separated values to the categories",
        )

    return ItemIn


class PutItemOut(BaseModel):
    item_id: str
    live: bool = Field(description="recommended by the serving bundle from its metadata now")
    known: bool = Field(description="already an item of the serving bundle")


class EventOut(BaseModel):
    user_id: str
    item_id: str
    timestamp: float
    event_type: str
    value: float
    event_id: str = ""


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

    version: str | None = Field(
        None,
        max_length=64,
        description="a version folder name under the served model's folder (e.g. 7); "
        "default: the newest",
    )


class ReadyOut(BaseModel):
    ready: bool
    bundle: str
    items: int
    encoder_provider: str
    store: bool = Field(description="the event store answers")
    trend_age_s: float = Field(description="seconds since the last successful trend refresh")
    trends: bool = Field(description="trend_age_s is within ready_max_trend_age_s")
    last_error: str | None = None


class ErrorOut(BaseModel):
    detail: str = Field(description="what went wrong, in words (no server internals)")


class FieldErrorOut(BaseModel):
    loc: list[str] = Field(description="where: body/query/path, then the field")
    msg: str
    type: str


class ValidationOut(BaseModel):
    detail: list[FieldErrorOut]
