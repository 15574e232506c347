"""Item-item cosine similarity over co-occurrence, with shrinkage and pruning."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm


def cosine_similarity(
    matrix: sp.csr_matrix,
    neighbours: int = 100,
    shrink: float = 0.0,
    block: int = 1024,
    progress: bool = False,
) -> sp.csr_matrix:
    """(I, I) sparse similarity ``c_ij / (sqrt(c_i c_j) + shrink)``, top ``neighbours`` per row.

    ``matrix`` is the binary (U, I) user-item matrix, so ``c_ij`` counts users
    with both items (Sarwar et al. 2001; shrinkage as in Koren 2008). The
    diagonal is zeroed. Rows are computed in dense blocks and pruned, so memory
    stays at ``block x I`` floats whatever the catalogue size.
    """
    csc = sp.csc_matrix(matrix, dtype=np.float32)
    n = csc.shape[1]
    norms = np.sqrt(np.asarray(csc.multiply(csc).sum(axis=0)).ravel())
    keep = min(neighbours, max(n - 1, 1))
    rows, cols, vals = [], [], []
    starts = range(0, n, block)
    for start in tqdm(starts, desc="similarity", disable=not progress):
        stop = min(start + block, n)
        co = (csc[:, start:stop].T @ csc).toarray()  # (b, I) co-occurrence counts
        sim = co / (norms[start:stop, None] * norms[None, :] + shrink + 1e-12)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = np.argpartition(-_tie_key(sim), keep - 1, axis=1)[:, :keep] if keep < n else None
        if top is None:
            top = np.tile(np.arange(n), (stop - start, 1))
        top_vals = np.take_along_axis(sim, top, axis=1)
        nz = top_vals > 0
        rows.append(np.repeat(np.arange(start, stop), nz.sum(axis=1)))
        cols.append(top[nz])
        vals.append(top_vals[nz])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
        dtype=np.float32,
    )


def _tie_key(sim: np.ndarray) -> np.ndarray:
    """int64 keys ordering non-negative float32 ``sim`` by value, ties to the lower
    column: the value's bits (order-preserving for floats >= 0) above the inverted
    column. So the pruning is deterministic and agrees with ``keep_top``."""
    bits = np.ascontiguousarray(sim, dtype=np.float32).view(np.int32).astype(np.int64)
    columns = np.arange(sim.shape[1], dtype=np.int64)
    return (bits << 32) | (0xFFFFFFFF - columns)


def keep_top(similarity: sp.csr_matrix, neighbours: int) -> sp.csr_matrix:
    """The ``neighbours`` largest entries of each row of ``similarity`` (ties to the
    lower column), so one similarity pruned at the largest K of a grid serves every
    smaller K."""
    rows = np.repeat(np.arange(similarity.shape[0]), np.diff(similarity.indptr))
    order = np.lexsort((similarity.indices, -similarity.data, rows))
    rank = np.arange(len(order)) - similarity.indptr[rows[order]]
    kept = order[rank < neighbours]
    return sp.csr_matrix(
        (similarity.data[kept], (rows[kept], similarity.indices[kept])),
        shape=similarity.shape,
        dtype=similarity.dtype,
    )


def popularity_tiebreak(matrix: sp.csr_matrix, scale: float = 1e-6) -> np.ndarray:
    """(I,) tiny popularity scores so items with no similarity rank by popularity."""
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    return (scale * counts / max(counts.max(), 1.0)).astype(np.float32)
