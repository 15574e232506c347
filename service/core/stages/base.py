"""A stage of the request path, and the state one Recommend call carries through them."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Protocol

import numpy as np

NO_ROWS = np.zeros(0, np.int64)
NO_SCORES = np.zeros(0, np.float32)
NO_ROWS.setflags(write=False)  # shared by every call until a stage sets its own
NO_SCORES.setflags(write=False)

if TYPE_CHECKING:
    from bundle.loader import Bundle
    from service.core.memo import Reranked, UserMemo
    from service.core.types import RecommendRequest
    from service.store.base import StoredEvent


class Call:
    """One Recommend call as it moves through the stages (each stage fills its part)."""

    __slots__ = (
        "bundle", "candidates", "done", "events", "given", "memo", "now", "pool", "reason",
        "request", "reranked", "rows", "scores", "version", "wanted",
    )  # fmt: skip

    def __init__(self, request: RecommendRequest, bundle: Bundle, now: float, wanted: int) -> None:
        self.request = request
        self.bundle = bundle
        self.now = now  # query time, unix seconds
        self.wanted = wanted  # how many HNSW candidates the retrieve stage fetches
        self.given: list[StoredEvent] | None = None  # events to use instead of the store's
        self.events: list[StoredEvent] = []  # history: the stored (or given) events
        self.memo: UserMemo | None = None  # history (personal) or the cold-start source
        self.version: Hashable | None = None  # history: what a cached memo is valid for
        self.reason = ""  # why the cold-start source answers ("" when personalised)
        self.candidates = NO_ROWS  # retrieve: unseen candidate rows
        self.pool = NO_ROWS  # score: candidates + trending items
        self.scores = NO_SCORES  # score: model + trend term of the pool
        self.reranked: Reranked | None = None  # rerank: the scores it used, if it ran
        self.rows = NO_ROWS  # select: the answer, best first
        self.done = False  # select: True when k items passed (else retrieve widens)


class Stage(Protocol):
    """A named step of the request path; the pipeline times ``run`` into
    ``recserve_pipeline_stage_seconds{stage=name}``."""

    name: str

    def run(self, call: Call) -> None:
        """Do this stage's work on ``call`` (a no-op when its memo slot is filled)."""
