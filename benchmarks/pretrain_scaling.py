"""PMI + randomized SVD on a 100K-item catalogue: how long each step takes.

Builds a clustered synthetic log (``benchmarks/ease_scaling.clustered_log``),
then times co-occurrence counting, the PMI transform and the randomized SVD,
for a windowed and a whole-timeline co-occurrence. The reference measured in
the same run is scipy's ARPACK ``svds`` on the same PMI matrix (the exact
truncated SVD the randomized one approximates), reported as a speed ratio.

    python -m benchmarks.pretrain_scaling --items 100000 --json reports/pretrain_scaling.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.sparse.linalg import svds

from benchmarks.ease_scaling import clustered_log
from training.pretrain.cooccurrence import cooccurrence, pmi
from training.pretrain.rsvd import randomized_svd
from training.report import format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--per-user", type=int, default=30)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--json", default="reports/pretrain_scaling.json")
    args = parser.parse_args()
    data = clustered_log(args.items, args.users, args.per_user)
    seqs = data.sequences()
    rows, records = [], []
    for window in (5, None):
        t0 = time.perf_counter()
        counts = cooccurrence(seqs, data.n_items, window)
        t1 = time.perf_counter()
        matrix = pmi(counts)
        t2 = time.perf_counter()
        _, s, _ = randomized_svd(matrix, args.dim)
        t3 = time.perf_counter()
        _, exact, _ = svds(matrix.astype(np.float64), k=args.dim)
        t4 = time.perf_counter()
        exact = np.sort(exact)[::-1]
        error = float(np.max(np.abs(s - exact) / exact))
        record = {
            "window": window,
            "items": data.n_items,
            "events": len(data),
            "nnz": int(matrix.nnz),
            "cooccurrence_s": t1 - t0,
            "pmi_s": t2 - t1,
            "rsvd_s": t3 - t2,
            "arpack_svds_s": t4 - t3,
            "speedup_vs_svds": (t4 - t3) / (t3 - t2),
            "max_rel_error_singular_values": error,
        }
        records.append(record)
        rows.append([
            "whole timeline" if window is None else f"window {window}", f"{matrix.nnz:,}",
            f"{t1 - t0:.1f}", f"{t2 - t1:.1f}", f"{t3 - t2:.1f}", f"{t4 - t3:.1f}",
            f"{record['speedup_vs_svds']:.1f}x", f"{error:.1e}",
        ])  # fmt: skip
        print(f"done: {rows[-1][0]}", flush=True)
    header = ["co-occurrence", "PMI nnz", "count s", "PMI s", "RSVD s", "svds s (ref)",
              "RSVD speed-up", "max sv error"]  # fmt: skip
    print(format_table(header, rows))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"runs": records}, indent=2) + "\n")


if __name__ == "__main__":
    main()
