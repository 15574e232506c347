"""EASE (Steck 2019): closed-form item-item model with a zero diagonal.

    P = (X^T X + lambda I)^-1,   B = I - P diag(1 / diag(P)),   scores = X B

``G + lambda I`` is symmetric positive definite, so the inverse is taken with
a Cholesky factorisation (LAPACK ``potrf`` + ``potri``) in place: half the
flops of a general LU inverse and a single I x I buffer.

What scales, measured on our 2-core machine (``benchmarks/ease_scaling.py``):
the crash of ``numpy.linalg.inv`` on a 23,715-item Gram matrix is not in the
inversion itself but in the bundled multi-threaded OpenBLAS *double precision*
GEMM kernel, which segfaults from about 16,000 x 16,000 outputs (``X.T @ X``
and ``dpotrf`` crash alike; single-threaded they pass). The single precision
kernels do not crash: ``spotrf + spotri`` invert a 25,000-item Gram matrix in
about 90 s with one 2.5 GB buffer. So float64 is used up to
``float64_max_items`` (8,000) items and float32 above; the Gram matrix is built
with a sparse product, never a dense GEMM.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from bundle.history import Sequences
from training.data.interactions import Interactions
from training.models.base import Recommender, Validator
from training.registry import register


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix, computed in place.

    ``matrix`` is overwritten. A C-ordered symmetric matrix is handed to LAPACK
    as its transpose (the same matrix, already Fortran-ordered), so no copy is
    made. Raises ``ValueError`` if the matrix is not positive definite.
    """
    a = matrix.T if matrix.flags.c_contiguous else np.asfortranarray(matrix)
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (a,))
    factor, info = potrf(a, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise ValueError(f"matrix is not positive definite (potrf info={info})")
    inverse, info = potri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise ValueError(f"Cholesky inverse failed (potri info={info})")
    _mirror_lower(inverse)
    # ``inverse`` is Fortran-ordered; its transpose is the same symmetric matrix in C
    # order, which row-wise consumers (a sparse history times it) need to be fast.
    return inverse.T


def _mirror_lower(a: np.ndarray, block: int = 2048) -> None:
    """Copy the lower triangle onto the upper one, a row block at a time
    (a whole-matrix index would cost several times the matrix in memory)."""
    n = a.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        a[start:stop, stop:] = a[stop:, start:stop].T
        diagonal = a[start:stop, start:stop]
        upper = np.triu_indices(stop - start, k=1)
        diagonal[upper] = diagonal.T[upper]


def gram_matrix(train: Interactions) -> sp.csr_matrix:
    """``X^T X`` of the binary user-item matrix, as a sparse product (no dense GEMM)."""
    x = train.to_csr(binary=True)
    return (x.T @ x).tocsr()


@register("ease")
class EASE(Recommender):
    """Embarrassingly shallow auto-encoder; ``l2`` is Steck's lambda (500 on ML-20M).

    Every grid point costs one I x I inversion, so on a catalogue over
    ``tuning_items`` the lambda grid is compared on the most popular items only
    (``training.tuning``) and the chosen lambda is fit once on every item.
    """

    search_space: ClassVar[dict[str, tuple[Any, ...]]] = {
        "l2": (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
    }
    # One inversion costs (I / 25,000)^3 x 62 s on 2 cores: a 25K-item grid would take
    # 6 minutes, its 8,000 most popular items' grid 3 s (then one fit on every item).
    tuning_items: ClassVar[int | None] = 8_000

    def __init__(self, l2: float = 500.0, float64_max_items: int = 8_000) -> None:
        if l2 <= 0:
            raise ValueError("l2 must be > 0")
        self.l2 = l2
        self.float64_max_items = float64_max_items

    def fit(
        self, train: Interactions, validation: Validator | None = None, progress: bool = False
    ) -> EASE:
        return self._solve(gram_matrix(train))

    @classmethod
    def fit_grid(
        cls, models: Sequence[Recommender], train: Interactions, validation: Validator | None
    ) -> Iterator[Recommender]:
        """One (sparse) Gram matrix for every lambda of the grid; each point inverts its own
        dense copy."""
        gram = gram_matrix(train)
        for model in models:
            assert isinstance(model, EASE)
            yield model._solve(gram)

    def _solve(self, gram: sp.csr_matrix) -> EASE:
        """B from the sparse Gram matrix ``X^T X`` (left unchanged)."""
        n = gram.shape[0]
        dtype = np.float64 if n <= self.float64_max_items else np.float32
        dense = gram.toarray().astype(dtype, copy=False)
        dense[np.diag_indices(n)] += self.l2
        weights = spd_inverse(dense)  # P, in the same buffer
        weights /= -np.diag(weights)[None, :]  # B = I - P diag(1/diag(P)): off-diagonal part
        weights[np.diag_indices(n)] = 0.0
        self._weights = weights.astype(np.float32, copy=False)
        self._n_items = n
        return self

    def score(
        self, history: Sequences, now: np.ndarray, users: np.ndarray | None = None
    ) -> np.ndarray:
        x = history.to_csr(self._n_items)
        return np.asarray(x @ self._weights)
