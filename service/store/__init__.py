"""Per-user event history stores, opened by URL (``open_store``)."""

from service.store.base import EventStore, StoredEvent, open_store

__all__ = ["EventStore", "StoredEvent", "open_store"]
