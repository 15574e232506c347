"""The blocking client: ``Client("host:port")``, one channel, typed calls."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, TypeVar

import grpc

from recserve_client import calls
from recserve_client.connection import Endpoint
from recserve_client.errors import RecserveError
from recserve_client.retry import Attempts
from recserve_client.types import (
    Event,
    Item,
    PutItemsResult,
    Recommendations,
    RecordResult,
    ScoredItem,
    SimilarItems,
)

T = TypeVar("T")


class Client(Endpoint):
    """Blocking recserve client (thread-safe; share one per process).

    Every method takes ``timeout`` (seconds, all attempts together; the
    client's default when None) and raises ``RecserveError`` on failure.
    """

    def recommend(
        self,
        user_id: str,
        k: int = 10,
        *,
        exclude_item_ids: Iterable[str] = (),
        include_categories: Iterable[str] = (),
        exclude_categories: Iterable[str] = (),
        now: float | None = None,
        rerank_n: int | None = None,
        explain: bool = False,
        timeout: float | None = None,
    ) -> Recommendations:
        """Top ``k`` items for ``user_id`` from their live history (or the fallback);
        ``rerank_n`` candidates re-scored by the bundle's re-ranker (0: none)."""
        call = calls.recommend(
            user_id,
            k,
            exclude_item_ids,
            include_categories,
            exclude_categories,
            now,
            rerank_n,
            explain,
        )
        return self._run(call, timeout)

    def record_events(
        self, events: Iterable[Event], *, timeout: float | None = None
    ) -> RecordResult:
        """Store events; rejected ones come back in ``errors``, the rest are kept."""
        return self._run(calls.record_events(events), timeout)

    def user_history(
        self, user_id: str, limit: int = 0, *, timeout: float | None = None
    ) -> tuple[Event, ...]:
        """The user's most recent events (``limit``; 0: all kept), oldest first."""
        return self._run(calls.user_history(user_id, limit), timeout)

    def similar_items(
        self, item_id: str, k: int = 10, *, timeout: float | None = None
    ) -> SimilarItems:
        return self._run(calls.similar_items(item_id, k), timeout)

    def put_items(self, items: Iterable[Item], *, timeout: float | None = None) -> PutItemsResult:
        """Register items with their metadata while serving (all or nothing): a bundle
        with an item encoder recommends the new ones on every replica within a second."""
        return self._run(calls.put_items(items), timeout)

    def trending(self, k: int = 10, *, timeout: float | None = None) -> tuple[ScoredItem, ...]:
        return self._run(calls.trending(k), timeout)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, call: calls.Call[T], timeout: float | None) -> T:
        attempts = Attempts(
            self.connection.retry, self.connection.timeout if timeout is None else timeout
        )
        method = getattr(self._stub, call.method)
        while True:
            try:
                reply = method(
                    call.request, timeout=attempts.remaining(), metadata=self.connection.metadata()
                )
            except grpc.RpcError as error:
                delay = attempts.delay_after(error)
                if delay is None:
                    raise RecserveError.from_rpc(error, attempts.made) from None
                time.sleep(delay)
            else:
                return call.read(reply)
