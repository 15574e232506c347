"""How EASE's closed form scales with the catalogue (the foundation issue's 25K-item case).

For each catalogue size, builds a clustered, power-law user-item matrix, then
times ``EASE.fit`` (sparse Gram + in-place Cholesky inverse, float32 above
8,000 items) against ``numpy.linalg.inv`` on the same float32 Gram matrix as
the reference measured in the same run. Prints a table, writes JSON.

    python -m benchmarks.ease_scaling --items 2000,5000,10000,25000 --json reports/ease_scaling.json

The reference is skipped above ``--reference-max`` items (default 10,000);
numpy's float64 inverse is never tried at scale: its multi-threaded OpenBLAS
GEMM segfaults from ~16,000 items on this machine (see training/baselines/ease.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from training.baselines.ease import EASE
from training.data.interactions import IdMap, Interactions
from training.report import format_table


def clustered_log(n_items: int, n_users: int, per_user: int, seed: int = 0) -> Interactions:
    """Users pick items mostly from one of ``n_items // 100`` clusters, Zipf inside."""
    rng = np.random.default_rng(seed)
    n_clusters = max(1, n_items // 100)
    cluster = rng.integers(0, n_clusters, size=n_users)
    rank = rng.zipf(1.3, size=(n_users, per_user)) % 100
    home = rng.random((n_users, per_user)) < 0.8
    other = rng.integers(0, n_clusters, size=(n_users, per_user))
    item = (np.where(home, cluster[:, None], other) * 100 + rank) % n_items
    users = np.repeat(np.arange(n_users), per_user).astype(np.int32)
    items = item.ravel().astype(np.int32)
    order = np.lexsort((items, users))
    return Interactions(
        users[order],
        items[order],
        np.zeros(len(items)),
        np.zeros(len(items), np.int8),
        np.ones(len(items), np.float32),
        IdMap(np.arange(n_users).astype(str).astype(object)),
        IdMap(np.arange(n_items).astype(str).astype(object)),
    )


def time_reference(data: Interactions, l2: float) -> float:
    x = data.to_csr(binary=True)
    start = time.perf_counter()
    gram = (x.T @ x).toarray().astype(np.float32)
    gram[np.diag_indices(gram.shape[0])] += l2
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    b[np.diag_indices(gram.shape[0])] = 0.0
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="2000,5000,10000,25000")
    parser.add_argument("--users", type=int, default=30000)
    parser.add_argument("--per-user", type=int, default=40)
    parser.add_argument("--reference-max", type=int, default=10000)
    parser.add_argument("--json", default="reports/ease_scaling.json")
    args = parser.parse_args()
    rows, records = [], []
    for n in (int(v) for v in args.items.split(",")):
        data = clustered_log(n, args.users, args.per_user)
        start = time.perf_counter()
        EASE(l2=500.0).fit(data)
        ours = time.perf_counter() - start
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        ref = time_reference(data, 500.0) if n <= args.reference_max else None
        ratio = None if ref is None else ref / ours
        records.append(
            {
                "items": n,
                "ease_fit_s": ours,
                "numpy_inv_s": ref,
                "speedup": ratio,
                "peak_rss_gb": peak_gb,
                "dtype": "float64" if n <= 8000 else "float32",
            }
        )
        rows.append(
            [
                str(n),
                records[-1]["dtype"],
                f"{ours:.1f}",
                "-" if ref is None else f"{ref:.1f}",
                "-" if ratio is None else f"{ratio:.2f}x",
                f"{peak_gb:.1f}",
            ]
        )
        print(f"{n} items: EASE fit {ours:.1f} s", flush=True)
    header = ["items", "dtype", "EASE fit s", "numpy inv s (ref)", "speed-up", "peak RSS GB"]
    print(format_table(header, rows))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"runs": records}, indent=2) + "\n")


if __name__ == "__main__":
    main()
