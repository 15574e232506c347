"""EASE (Steck 2019): closed-form item-item model with a zero diagonal.

    P = (X^T X + lambda I)^-1,   B = I - P diag(1 / diag(P)),   scores = X B

``G + lambda I`` is symmetric positive definite, so the inverse is taken with
a Cholesky factorisation (LAPACK ``potrf`` + ``potri``) in place: half the
flops of a general LU inverse and a single I x I buffer. This is what scales:
``numpy.linalg.inv`` crashed (segfault) on a 23,715-item Gram matrix on our
2-core machine, while ``potrf/potri`` in float32 inverts 25,000 items in a few
minutes with ~2.5 GB for the matrix (``benchmarks/ease_scaling.py``). float64
is used up to ``float64_max_items`` items, float32 above.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.linalg.lapack as lapack

from training.data.interactions import Interactions, Sequences
from training.data.splits import EvalSet
from training.models.base import Recommender
from training.registry import register


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix, overwriting ``matrix``.

    Uses the lower Cholesky factor; the upper triangle is filled by symmetry.
    Raises ``ValueError`` if the matrix is not positive definite.
    """
    a = np.asfortranarray(matrix)
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (a,))
    factor, info = potrf(a, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise ValueError(f"matrix is not positive definite (potrf info={info})")
    inverse, info = potri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise ValueError(f"Cholesky inverse failed (potri info={info})")
    upper = np.triu_indices_from(inverse, k=1)
    inverse[upper] = inverse.T[upper]
    return inverse


@register("ease")
class EASE(Recommender):
    """Embarrassingly shallow auto-encoder; ``l2`` is Steck's lambda (500 on ML-20M).

    The tuning grid costs one I x I inversion per value: pass ``--no-tune`` and
    ``--param ease.l2=...`` on large catalogues.
    """

    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {
        "l2": (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
    }

    def __init__(self, l2: float = 500.0, float64_max_items: int = 10_000) -> None:
        if l2 <= 0:
            raise ValueError("l2 must be > 0")
        self.l2 = l2
        self.float64_max_items = float64_max_items

    def fit(self, train: Interactions, valid: EvalSet | None = None) -> EASE:
        x = train.to_csr(binary=True)
        n = x.shape[1]
        dtype = np.float64 if n <= self.float64_max_items else np.float32
        gram = (x.T @ x).toarray().astype(dtype, copy=False)
        gram[np.diag_indices(n)] += self.l2
        p = spd_inverse(gram)
        weights = p / (-np.diag(p))[None, :]
        weights[np.diag_indices(n)] = 0.0
        self._weights = np.ascontiguousarray(weights, dtype=np.float32)
        self._n_items = n
        return self

    def score(self, history: Sequences, now: np.ndarray) -> np.ndarray:
        x = history.to_csr(self._n_items)
        return np.asarray(x @ self._weights)
