"""Errors of the event stores, for start-up (one line, exit 2) and for calls
(``StoreUnavailable``: gRPC UNAVAILABLE / HTTP 503 naming the store, no host)."""


class StoreError(Exception):
    """A store cannot be opened or used as asked; the message says what to do."""


class StoreLocked(StoreError):
    """Another process holds this embedded store open."""


class StoreCorrupt(StoreError):
    """A complete record of the log cannot be read: start-up is refused."""


class StoreUnavailable(StoreError):
    """A call could not reach a shared store (timed out, refused, read-only...).

    The message names the store's role and the kind of failure, never a host or
    an exception class: it goes to clients as gRPC UNAVAILABLE / HTTP 503."""
