"""HNSW settings of a served bundle: does a denser graph buy a cheaper search?

The exporter (``export.index_build``) takes the first step of its schedule that
reaches recall@10 >= 0.95, then the smallest ef that still does. This benchmark
asks whether another (M, ef_construction) would serve the same recall for less:
it rebuilds the index of ``loadtest.catalog``'s 100K-item bundle of ``--model``
(the one ``make bench-serving`` serves) at each ``--graphs`` setting, and for each
ef of ``--efs`` measures

- recall@10 against the exact top 10 of the model's own scores, on the user
  vectors of the catalogue's 1,000 users (``export.index_build.recall_at_k``);
- CPU microseconds per single-query search of k = 40 (what the server asks for
  k = 10 with overfetch 4; hnswlib searches with max(ef, k)), best of
  ``--rounds`` passes over every query, all settings interleaved in each pass,
  and as a ratio to the bundle's own index at its own ef measured in the same
  passes (the machine is shared: compare ratios, not microseconds).

    python -m benchmarks.hnsw_settings --model attrec --json reports/hnsw_settings_attrec.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from bundle.history import Sequences
from bundle.loader import Bundle
from export.index_build import recall_at_k
from loadtest.catalog import MODELS, build_bundle
from training.report import format_table

SEARCH_K = 40  # k * overfetch for a top-10 request (service.settings defaults)


def user_vectors(bundle: Bundle, histories: list[np.ndarray]) -> np.ndarray:
    """(U, D) the served user vectors of the catalogue's users (one-pass encoder)."""
    sequences = Sequences.from_lists([list(h) for h in histories])
    now = np.full(len(histories), float(len(sequences.item)))
    names = [f"user-{k:05d}" for k in range(len(histories))]
    return bundle.encoder.encode(sequences, now, bundle.user_context(names))


def build(points: np.ndarray, space: str, m: int, construction: int) -> tuple[Any, float]:
    import hnswlib

    started = time.perf_counter()
    index = hnswlib.Index(space=space, dim=points.shape[1])
    index.init_index(max_elements=len(points), M=m, ef_construction=construction, random_seed=0)
    index.set_num_threads(2)
    index.add_items(points, np.arange(len(points)))
    return index, time.perf_counter() - started


def search_cpu_us(index: Any, ef: int, queries: np.ndarray) -> float:
    """CPU microseconds per single-query search (k = ``SEARCH_K``) over ``queries``."""
    index.set_ef(ef)
    started = time.process_time()
    for row in queries:
        index.knn_query(row[None, :], k=SEARCH_K, num_threads=1)
    return (time.process_time() - started) / len(queries) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="attrec", choices=sorted(MODELS))
    parser.add_argument("--bundle", default=None, help="default bundles/bench-<model>-100k/1")
    parser.add_argument(
        "--graphs", default="16:400,24:400,32:400",
        help="M:ef_construction settings to build beside the bundle's own",
    )  # fmt: skip
    parser.add_argument("--efs", default="40,48,64,96", help="search ef values")
    parser.add_argument("--rounds", type=int, default=7, help="best of N passes")
    parser.add_argument("--json", default=None, help="default reports/hnsw_settings_<model>.json")
    args = parser.parse_args()
    out = Path(args.bundle or f"bundles/bench-{args.model}-100k/1")
    folder, histories = build_bundle(out, args.model)
    bundle = Bundle.load(folder)
    info = bundle.manifest.index
    form = info.form
    queries = user_vectors(bundle, histories)
    points = form.item_vectors(bundle.vectors)
    projected = form.query_vectors(queries)
    own = f"M {info.M} / {info.ef_construction} (bundle)"
    graphs: dict[str, tuple[Any, float | None]] = {own: (bundle.index, None)}
    for setting in args.graphs.split(","):
        m, construction = (int(v) for v in setting.split(":"))
        graphs[f"M {m} / {construction}"] = build(points, form.space, m, construction)
        print(f"built M {m} / ef_construction {construction}", flush=True)
    efs = [int(v) for v in args.efs.split(",")]
    cells = [(name, ef) for name in graphs for ef in efs]
    cells.append((own, info.ef_search))
    costs: dict[tuple[str, int], list[float]] = {c: [] for c in cells}
    for _ in range(args.rounds):
        for name, ef in cells:
            costs[name, ef].append(search_cpu_us(graphs[name][0], ef, projected))
    reference = min(costs[own, info.ef_search])
    rows, records = [], []
    for name, ef in cells[:-1]:
        index, seconds = graphs[name]
        recall = recall_at_k(index, form, queries, bundle.vectors, 10, ef)
        cpu = min(costs[name, ef])
        records.append({"graph": name, "ef": ef, "recall@10": recall, "cpu_us": cpu,
                        "cost_ratio": cpu / reference, "build_s": seconds})  # fmt: skip
        rows.append([name, str(ef), f"{recall:.4f}", f"{cpu:.0f}", f"{cpu / reference:.2f}",
                     "-" if seconds is None else f"{seconds:.0f}"])  # fmt: skip
    print(
        f"\n{args.model}: {len(points):,} items, {points.shape[1]}-d {form.space} index, "
        f"{len(queries):,} queries; ratio = CPU per search / the bundle's own index at its "
        f"ef {info.ef_search} ({reference:.0f} µs)\n"
    )
    print(format_table(["graph (M / ef_construction)", "ef", "recall@10", "cpu µs", "ratio",
                        "build s"], rows))  # fmt: skip
    report = {"model": args.model, "items": len(points), "dim": int(points.shape[1]),
              "space": form.space, "search_k": SEARCH_K, "bundle_index": {"M": info.M,
              "ef_construction": info.ef_construction, "ef_search": info.ef_search,
              "cpu_us": reference}, "settings": records}  # fmt: skip
    path = Path(args.json or f"reports/hnsw_settings_{args.model}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
