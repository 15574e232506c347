"""Explanations: which history items drove each recommended item, and by how much.

Computed only when a request asks (``explain``), after the answer is chosen,
from what each model honestly offers (the bundle declares it,
``manifest.semantics.explanation``):

- ``additive`` (LED): the user vector is sum_i a_i q_i, so item i's share of the
  score of j is exactly a_i <q_i, x_j> (a: the encoder's ``history_weights``;
  q_i: the similar-items query of i's row). ``rest`` is what no history item
  explains (the item bias and the live trend term): the weights plus ``rest``
  are the served score.
- ``attention``: the model's own attention weights over the history events the
  model read (AttRec's self-attention; the re-ranker's last layer, per item,
  for items the re-ranker scored).
- ``leave-one-out``: the drop of the model score <q, x_j> when every event of one
  history item is left out (one batched encoder run over the histories missing
  one item each).

An item that occurs several times in the history sums its events' weights.
Each explanation keeps the ``top`` items with the largest absolute weight.
"""

from __future__ import annotations

import numpy as np

from bundle.history import Sequences, cut_history
from bundle.loader import Bundle
from service.core.memo import Reranked
from service.core.types import Explanation


def _per_item(bundle: Bundle, rows: np.ndarray, weights: np.ndarray, top: int) -> list:
    """(R, E) event weights over event item ``rows`` -> per answer row, the ``top``
    (item id, summed weight) pairs."""
    items, inverse = np.unique(rows, return_inverse=True)
    onehot = np.zeros((len(rows), len(items)))
    onehot[np.arange(len(rows)), inverse] = 1.0
    summed = np.asarray(weights, np.float64) @ onehot  # (R, distinct items)
    order = np.argsort(-np.abs(summed), axis=1, kind="stable")[:, :top]
    ids = bundle.items.ids
    return [
        tuple((ids[items[c]], float(summed[r, c])) for c in order[r]) for r in range(len(summed))
    ]


def encoder_explanations(
    bundle: Bundle,
    history: Sequences,
    now: float,
    user_id: str,
    rows: np.ndarray,
    scores: np.ndarray,
    top: int,
) -> list[Explanation]:
    """Explanations of answer ``rows`` (served ``scores``) by the retrieval model."""
    manifest = bundle.manifest
    kind = manifest.semantics.explanation
    users = bundle.user_context((user_id,))
    cut = cut_history(history, manifest.encoder.history)  # the events the encoder read
    events = cut.item.astype(np.int64)
    if not len(events):
        return [Explanation(kind, ()) for _ in rows]
    vectors = bundle.vectors
    if kind == "leave-one-out":  # re-scored without every event of each read item
        full = bundle.encoder.encode(history, np.array([now]), users)[0]
        items = np.unique(events)
        keep = history.item[None, :] != items[:, None]  # (U, E): row u lacks item u
        n = len(items)
        without = Sequences(
            np.concatenate([[0], np.cumsum(keep.sum(1))]).astype(np.int64),
            *(np.broadcast_to(a, keep.shape)[keep] for a in (
                history.item, history.timestamp, history.event_type, history.value)),
        )  # fmt: skip
        context = None if users is None else type(users)(
            np.repeat(users.vectors, n, axis=0), np.repeat(users.known, n)
        )  # fmt: skip
        queries = bundle.encoder.encode(without, np.full(n, now), context)
        weights = (vectors[rows] @ full)[:, None] - vectors[rows] @ queries.T  # (k, U)
        return [Explanation(kind, pairs) for pairs in _per_item(bundle, items, weights, top)]
    name = next(o.name for o in manifest.encoder.outputs if o.role == "history_weights")
    share = bundle.encoder.run(cut, np.array([now]), users, [name])[name][0, : len(events)]
    if kind == "attention":
        weights = np.tile(share, (len(rows), 1))
        return [Explanation(kind, pairs) for pairs in _per_item(bundle, events, weights, top)]
    similar = manifest.semantics.similar_items
    queries = np.stack([similar.apply(vectors[e]) for e in events])  # (E, D)
    weights = share[None, :] * (vectors[rows] @ queries.T)  # (k, E): exact shares
    rests = scores.astype(np.float64) - weights.sum(1)
    pairs = _per_item(bundle, events, weights, top)
    return [Explanation(kind, p, float(r)) for p, r in zip(pairs, rests, strict=True)]


def reranker_explanations(
    bundle: Bundle, history: Sequences, reranked: Reranked, rows: np.ndarray, top: int
) -> dict[int, Explanation]:
    """The re-ranker's last-layer attention of each answer row it scored, by row."""
    assert bundle.manifest.reranker is not None
    events = cut_history(history, bundle.manifest.reranker.history).item.astype(np.int64)
    where = {int(r): k for k, r in enumerate(reranked.rows.tolist())}
    chosen = [int(r) for r in rows.tolist() if int(r) in where]
    if not chosen or not len(events):
        return {}
    weights = reranked.weights[[where[r] for r in chosen], : len(events)]
    pairs = _per_item(bundle, events, weights, top)
    return {r: Explanation("attention", p) for r, p in zip(chosen, pairs, strict=True)}
