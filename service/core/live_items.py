"""Items registered while serving (PutItems), recommended without retraining.

An item the serving bundle does not know can be registered with its metadata
(categories, other attributes). Registrations live in the event store
(``put_items``), so every replica sees them; each replica polls the store's
item version every ``live_items_refresh_s`` in a background thread and, when
it moved, reads the registrations again.

A bundle with an ``item_encoder`` (HRNN-meta with the metadata decoder of
eq. 2) turns each registration it does not know into an item vector, ``[w(f),
b(f)]`` at lambda = 1. The serving view is the bundle with those items
appended after its own rows (``Bundle.with_live_items``): retrieval unions the
HNSW candidates with every live row, scored exactly (a small side index), and
trends, filters and replies see them like any other item. A bundle version
that knows an item takes over: its own row serves it, the registration stays
in the store. A bundle without an item encoder, or with a re-ranker (which has
no embedding for rows it was not aligned to), stores registrations and serves
none of them (``PutItems`` says so).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bundle.loader import Bundle
from service.core.errors import InvalidArgument
from service.core.validation import check_category, check_id
from service.settings import Settings
from service.store.base import EventStore

log = logging.getLogger("recserve")


@dataclass(frozen=True)
class ItemInput:
    """One registration: the item's id, its categories and other text attributes."""

    item_id: str
    categories: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()

    def metadata(self) -> dict[str, str]:
        """The item's feature-table row: its attributes, and ``categories`` ``|``-joined
        (an attribute named ``categories`` adds its ``|``-separated values to them)."""
        extra = dict(self.attributes).get("categories", "").split("|")
        names = dict.fromkeys([*self.categories, *(c for c in extra if c.strip())])
        return {**dict(self.attributes), "categories": "|".join(names)}


@dataclass(frozen=True)
class PutItemsResult:
    stored: int  # registrations written
    live: int  # of those, served by the current bundle now (new to it, it has an encoder)
    known: int  # of those, already rows of the current bundle (its own vector serves them)


def validate_items(items: list[ItemInput], settings: Settings) -> None:
    """Field-named errors for the whole call: it is stored all or nothing."""
    if not items:
        raise InvalidArgument("items", "must hold at least one item")
    if len(items) > settings.max_events_per_call:
        raise InvalidArgument("items", f"more than {settings.max_events_per_call} items")
    limit = settings.max_id_length
    for k, item in enumerate(items):
        check_id(f"items[{k}].item_id", item.item_id, settings)
        for c, name in enumerate(item.categories):
            check_category(f"items[{k}].categories[{c}]", name, settings)
        for key, value in item.attributes:
            if len(key) > limit or len(value) > limit:
                raise InvalidArgument(f"items[{k}].attributes", f"a name or value is longer "
                                      f"than {limit} characters")  # fmt: skip


class LiveItems:
    """The registrations of this store and each bundle's view of them."""

    def __init__(self, store: EventStore, settings: Settings) -> None:
        self.store = store
        self.interval = settings.live_items_refresh_s
        self.limit = settings.max_live_items
        self._version = -1
        self._items: dict[str, dict[str, str]] = {}
        self._views: tuple[Bundle, int, Bundle] | None = None  # base, version, view
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0

    def put(self, items: list[ItemInput], bundle: Bundle | None) -> PutItemsResult:
        rows = [(i.item_id, json.dumps(i.metadata(), sort_keys=True)) for i in items]
        self.store.put_items(rows)
        self.refresh()  # this replica serves them from the next call
        if bundle is None:
            return PutItemsResult(len(items), 0, 0)
        known = int((bundle.items.rows([i.item_id for i in items]) >= 0).sum())
        serves = bundle.item_encoder is not None and bundle.reranker is None
        live = len(items) - known if serves else 0
        return PutItemsResult(len(items), live, known)

    def refresh(self) -> None:
        """Read the registrations again when the store's item version moved."""
        version = self.store.items_version()
        if version == self._version:
            return
        raw = self.store.items()
        found = {}
        for item_id, text in raw.items():
            try:
                found[item_id] = json.loads(text)
            except ValueError:  # written by something else: skipped, never served
                continue
        with self._lock:
            self._items, self._version = found, version

    def view(self, bundle: Bundle) -> Bundle:
        """``bundle`` with the registered items it does not know appended, when it has an
        item encoder (else ``bundle`` itself); rebuilt when either changes."""
        if bundle.item_encoder is None or bundle.reranker is not None or not self._items:
            return bundle  # (a re-ranker has no embedding for rows it was not aligned to)
        held = self._views
        if held is not None and held[0] is bundle and held[1] == self._version:
            return held[2]
        with self._lock:
            items, version = self._items, self._version
        new = [i for i in items if i not in bundle.items.row_of][: self.limit]
        view = bundle.with_live_items(new, [items[i] for i in new]) if new else bundle
        self._views = (bundle, version, view)  # a race at worst builds it twice
        return view

    def start(self, on_error: Callable[[], None] | None = None) -> None:
        self.refresh()

        def run() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.refresh()
                except Exception as error:  # a store blip must not stop the polling
                    self.errors += 1
                    if on_error is not None:
                        on_error()
                    if self.errors == 1 or self.errors % 100 == 0:
                        log.warning("live items refresh failed (%s); %d so far", error, self.errors)

        self._thread = threading.Thread(target=run, name="live-items", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
