"""Offline evaluation: score a model on an ``EvalSet``.

``evaluate()`` ranks all items by default (or the targets among N sampled
negatives drawn from popularity**gamma, the attention-CF paper's protocol),
removes each user's input items from the ranking (and from the targets, which
could not be recommended anyway), and averages ``training.metrics``.

``Validation`` is the same on the validation users, as the ``Validator`` a
training job injects into ``fit`` for early stopping (``training.jobs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from tqdm import tqdm

from bundle.history import Sequences
from training.data.sampling import AliasSampler, popularity_distribution, sample_negatives
from training.data.splits import EvalSet
from training.metrics import MetricAccumulator
from training.models.base import Recommender


@dataclass(frozen=True)
class EvalConfig:
    """How to rank: cut-offs, seen-item exclusion, full or sampled candidates."""

    ks: tuple[int, ...] = (10, 20, 50)
    exclude_seen: bool = True
    negatives: int = 0  # 0: full ranking over all items
    gamma: float = 1.0  # sampled negatives ~ popularity ** gamma (0: uniform)
    batch_size: int = 512
    seed: int = 0


def exclude_seen(scores: np.ndarray, history: Sequences, targets: Sequences) -> Sequences:
    """Set the (B, n_items) ``scores`` of each row's history items to -inf, in place,
    and return the targets without them (they could not be recommended)."""
    n_items = scores.shape[1]
    seen = history.row_ids() * n_items + history.item
    scores.reshape(-1)[seen] = -np.inf
    target_keys = targets.row_ids() * n_items + targets.item
    return targets.select(~np.isin(target_keys, seen))


def evaluate(
    model: Recommender,
    eval_set: EvalSet,
    n_items: int,
    config: EvalConfig = EvalConfig(),
    item_counts: np.ndarray | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Metrics of ``model`` on ``eval_set`` (see ``training.metrics`` for definitions).

    ``item_counts`` (n_items,) is the training popularity used to draw sampled
    negatives; it is required when ``config.negatives > 0``.
    """
    acc = MetricAccumulator(config.ks, n_items)
    rng = np.random.default_rng(config.seed)
    sampler = None
    if config.negatives > 0:
        if item_counts is None:
            raise ValueError("sampled evaluation needs item_counts")
        sampler = AliasSampler(popularity_distribution(item_counts, config.gamma))
    n_batches = -(-len(eval_set) // config.batch_size)
    for batch in tqdm(
        eval_set.batches(config.batch_size), total=n_batches, desc=model.name, disable=not progress
    ):
        raw = model.score(batch.history, batch.now, batch.users)
        if raw.shape != (len(batch), n_items):
            raise ValueError(
                f"{model.name}.score returned {raw.shape}, expected ({len(batch)}, {n_items})"
            )
        scores = np.array(raw, dtype=np.float32)
        scores[~np.isfinite(scores)] = np.finfo(np.float32).min
        targets = batch.targets
        rows = np.arange(len(batch))
        if config.exclude_seen:
            targets = exclude_seen(scores, batch.history, targets)
        if sampler is not None:
            positives = np.zeros((len(batch), n_items), dtype=bool)
            positives.reshape(-1)[batch.history.row_ids() * n_items + batch.history.item] = True
            positives.reshape(-1)[targets.row_ids() * n_items + targets.item] = True
            negatives = sample_negatives(sampler, rng, config.negatives, positives)
            candidates = positives.copy()
            candidates[rows[:, None], negatives] = True
            candidates.reshape(-1)[batch.history.row_ids() * n_items + batch.history.item] = False
            scores[~candidates] = -np.inf
        acc.add(scores, targets)
    result = acc.result()
    result["users"] = acc.users
    result["skipped_users"] = acc.skipped_users
    return result


@dataclass(frozen=True)
class Validation:
    """A ``Validator``: ``metric`` (e.g. ``ndcg@100``, ``mrr``) of a model on the
    validation users, ranked as the test users will be."""

    eval_set: EvalSet
    n_items: int
    metric: str
    config: EvalConfig = field(default_factory=EvalConfig)
    item_counts: np.ndarray | None = None

    def __post_init__(self) -> None:
        _, _, k = self.metric.partition("@")
        if self.metric != "mrr" and not k.isdigit():
            raise ValueError(
                f"validation metric must be mrr or NAME@K, e.g. ndcg@10; got {self.metric!r}"
            )
        ks = self.config.ks if self.metric == "mrr" else tuple(sorted({*self.config.ks, int(k)}))
        object.__setattr__(self, "config", replace(self.config, ks=ks))

    def __call__(self, model: Recommender) -> float:
        return evaluate(model, self.eval_set, self.n_items, self.config, self.item_counts)[
            self.metric
        ]
