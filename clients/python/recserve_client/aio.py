"""The asyncio client: the same calls as ``Client``, awaited, on a ``grpc.aio`` channel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, TypeVar

import grpc
import grpc.aio

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


class AsyncClient(Endpoint):
    """asyncio recserve client; create it inside the event loop that uses it.

    ``async with AsyncClient("host:port") as client: await client.recommend(...)``.
    Deadlines, retries and errors are those of ``Client``.
    """

    channels = grpc.aio

    async def recommend(
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
        return await self._run(call, timeout)

    async def record_events(
        self, events: Iterable[Event], *, timeout: float | None = None
    ) -> RecordResult:
        return await self._run(calls.record_events(events), timeout)

    async def user_history(
        self, user_id: str, limit: int = 0, *, timeout: float | None = None
    ) -> tuple[Event, ...]:
        return await self._run(calls.user_history(user_id, limit), timeout)

    async def similar_items(
        self, item_id: str, k: int = 10, *, timeout: float | None = None
    ) -> SimilarItems:
        return await self._run(calls.similar_items(item_id, k), timeout)

    async def put_items(
        self, items: Iterable[Item], *, timeout: float | None = None
    ) -> PutItemsResult:
        """Register items with their metadata while serving (all or nothing): a bundle
        with an item encoder recommends the new ones on every replica within a second."""
        return await self._run(calls.put_items(items), timeout)

    async def trending(
        self, k: int = 10, *, timeout: float | None = None
    ) -> tuple[ScoredItem, ...]:
        return await self._run(calls.trending(k), timeout)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _run(self, call: calls.Call[T], timeout: float | None) -> T:
        attempts = Attempts(
            self.connection.retry, self.connection.timeout if timeout is None else timeout
        )
        method = getattr(self._stub, call.method)
        while True:
            try:
                reply = await method(
                    call.request, timeout=attempts.remaining(), metadata=self.connection.metadata()
                )
            except grpc.RpcError as error:
                delay = attempts.delay_after(error)
                if delay is None:
                    raise RecserveError.from_rpc(error, attempts.made) from None
                await asyncio.sleep(delay)
            else:
                return call.read(reply)
