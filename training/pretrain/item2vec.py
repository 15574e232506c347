"""Skip-gram item2vec with negative sampling (attention-CF paper, section 3).

Time-ordered user sequences play the part of sentences: a window slides over
each sequence and every (item, context item) pair inside it is a positive;
negatives are drawn with an alias-method sampler from counts^0.75. The loss
per positive pair (i, j) with negatives N_i is

    -log sigma(x_i . y_j) - sum_{j' in N_i} log(1 - sigma(x_i . y_j'))

and the input vectors x are the item embeddings (the attention re-ranker
consumes them frozen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from training.data.interactions import Interactions
from training.data.sampling import AliasSampler, popularity_distribution


@dataclass(frozen=True)
class Item2VecConfig:
    dim: int = 64
    window: int = 5
    negatives: int = 5
    smoothing: float = 0.75
    epochs: int = 5
    batch_size: int = 4096
    lr: float = 0.01
    event_types: tuple[str, ...] = ()  # () = every event
    seed: int = 0


def skipgram_pairs(
    train: Interactions, window: int, event_types: tuple[str, ...] = ()
) -> np.ndarray:
    """(P, 2) int64 (center, context) pairs within ``window`` positions, both directions."""
    data = train.of_types(event_types)
    seqs = data.sequences()
    rows = seqs.row_ids()
    pairs = []
    for offset in range(1, window + 1):
        same = rows[offset:] == rows[:-offset]
        a, b = seqs.item[:-offset][same], seqs.item[offset:][same]
        keep = a != b
        pairs.append(np.stack([a[keep], b[keep]], axis=1))
        pairs.append(np.stack([b[keep], a[keep]], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(pairs).astype(np.int64)


def item2vec_embeddings(
    train: Interactions, config: Item2VecConfig = Item2VecConfig(), progress: bool = False
) -> np.ndarray:
    """(n_items, dim) float32 skip-gram input vectors."""
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    pairs = skipgram_pairs(train, config.window, config.event_types)
    counts = np.bincount(train.item, minlength=train.n_items)
    sampler = AliasSampler(popularity_distribution(counts, config.smoothing))
    n, d = train.n_items, config.dim
    center = torch.nn.Embedding(n, d, sparse=True)
    context = torch.nn.Embedding(n, d, sparse=True)
    torch.nn.init.uniform_(center.weight, -0.5 / d, 0.5 / d)
    torch.nn.init.zeros_(context.weight)
    optimizer = torch.optim.SparseAdam([*center.parameters(), *context.parameters()], lr=config.lr)
    logsig = torch.nn.functional.logsigmoid
    steps = max(1, -(-len(pairs) // config.batch_size))
    bar = tqdm(total=config.epochs * steps, desc="item2vec", disable=not progress)
    for _ in range(config.epochs):
        order = rng.permutation(len(pairs))
        for start in range(0, len(pairs), config.batch_size):
            batch = torch.from_numpy(pairs[order[start : start + config.batch_size]])
            negatives = torch.from_numpy(sampler.sample(rng, (len(batch), config.negatives)))
            x = center(batch[:, 0])  # (B, d)
            positive = (x * context(batch[:, 1])).sum(-1)
            negative = torch.einsum("bd,bkd->bk", x, context(negatives))
            loss = -(logsig(positive) + logsig(-negative).sum(-1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.update()
    bar.close()
    return center.weight.detach().numpy().astype(np.float32)
