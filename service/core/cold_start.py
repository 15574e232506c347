"""The fallback chain's last link: what a user without a usable history gets.

The bundle declares it (``semantics.cold_start``), the server does not guess:

- ``query``: a fixed query vector, e.g. [0, ..., 0, 1] for LED (sec. 6.2: the
  items' learned bias alone) or the predictor's output for an empty history;
  items are searched and scored as for a personalised query;
- ``popularity``: the items' training counts, log(1 + count), for models
  with no meaningful query without history (AttRec).

Either way the source is a fixed score per item, computed exactly once per
bundle (a fixed query is a poor HNSW query: it may be orthogonal to the
embedding space, as LED's is), and the live trend term is added by the score
stage, so a cold user gets the trend- and bias- (or popularity-) ranked
answer, flagged ``personalized=false``. One source per bundle, shared by every
cold user: its candidates and pool are memoised like a user's.
"""

from __future__ import annotations

import threading

import numpy as np

from bundle.loader import Bundle
from service.core.memo import UserMemo
from service.core.stages.select import blocked_set


def source_for(bundle: Bundle) -> UserMemo:
    """A fresh cold-start source for ``bundle``, as its manifest declares it."""
    cold = bundle.manifest.semantics.cold_start
    memo = UserMemo(history=None, seen=blocked_set())
    if cold.kind == "query":
        memo.static = bundle.vectors @ np.asarray(cold.query, dtype=np.float32)
    else:
        memo.static = np.log1p(bundle.items.counts).astype(np.float32)
    return memo


class ColdStart:
    """The cold-start source of the serving bundle (rebuilt when the bundle changes)."""

    def __init__(self) -> None:
        self._held: tuple[str, UserMemo] | None = None
        self._lock = threading.Lock()

    def source(self, bundle: Bundle) -> UserMemo:
        held = self._held
        if held is not None and held[0] == bundle.identity:
            return held[1]
        with self._lock:
            memo = source_for(bundle)
            self._held = (bundle.identity, memo)
            return memo
