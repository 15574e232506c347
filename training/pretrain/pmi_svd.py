"""PMI + randomized SVD item embeddings (LED paper, Algorithm 1 steps 1-2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data.interactions import Interactions
from training.pretrain.cooccurrence import cooccurrence, pmi
from training.pretrain.rsvd import randomized_svd


@dataclass(frozen=True)
class PMISVDConfig:
    """Co-occurrence window (None: whole timeline), PMI variant and SVD rank."""

    dim: int = 128
    window: int | None = None
    smoothing: float = 0.75
    variant: str = "sppmi"
    shift: float = 1.0
    power_iterations: int = 4
    singular_power: float = 0.5  # embeddings = U * s**power (0: plain U, as the paper)
    event_types: tuple[str, ...] = ()  # () = every event; the paper uses views
    seed: int = 0


def pmi_svd_embeddings(train: Interactions, config: PMISVDConfig = PMISVDConfig()) -> np.ndarray:
    """(n_items, dim) float32 embeddings: left singular vectors scaled by s**power.

    The LED paper uses the left singular vectors of the PMI matrix (power 0);
    the default power 0.5 keeps the relative importance of the directions for
    models that train the embeddings further ('full' fine-tuning), while
    'project' fine-tuning can learn any rescaling in P.
    """
    data = train.of_types(config.event_types)
    counts = cooccurrence(data.sequences(), train.n_items, config.window)
    matrix = pmi(counts, config.smoothing, config.variant, config.shift)
    rank = min(config.dim, train.n_items - 1)
    u, s, _ = randomized_svd(
        matrix, rank, power_iterations=config.power_iterations, seed=config.seed
    )
    vectors = np.zeros((train.n_items, config.dim), dtype=np.float32)
    vectors[:, :rank] = u * np.power(s, config.singular_power)[None, :]
    return vectors
