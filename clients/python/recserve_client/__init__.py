"""recserve-client: a typed gRPC client of the recserve recommendation server.

    from recserve_client import Client, Event

    with Client("127.0.0.1:50051") as client:
        client.record_events([Event("user-1", "item-00042", event_type="view")])
        print(client.recommend("user-1", k=5).item_ids)

``AsyncClient`` is the asyncio variant. The generated stubs are in
``recserve_client.rpc`` (the server uses them too).
"""

from recserve_client.aio import AsyncClient
from recserve_client.client import Client
from recserve_client.errors import RecserveError
from recserve_client.retry import RetryPolicy
from recserve_client.types import (
    Event,
    EventError,
    Explanation,
    Item,
    PutItemsResult,
    Recommendations,
    RecordResult,
    ScoredItem,
    SimilarItems,
    new_event_id,
)

__all__ = [
    "AsyncClient",
    "Client",
    "Event",
    "EventError",
    "Explanation",
    "Item",
    "PutItemsResult",
    "Recommendations",
    "RecordResult",
    "RecserveError",
    "RetryPolicy",
    "ScoredItem",
    "SimilarItems",
    "new_event_id",
]
