"""Argument parser of ``recserve export``."""

from __future__ import annotations

import argparse
import os
from typing import Any


def add_export_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="turn a trained checkpoint into a servable bundle (ONNX + HNSW + manifest)",
        description="Write bundles/<name>/<version>/: encoder.onnx, items.npy, index.hnsw, "
        "items.tsv and manifest.json (and reranker.onnx with --reranker). Refuses to write a "
        "bundle whose ONNX graphs differ from torch or whose index recall@10 is below the target.",
    )
    parser.add_argument("--checkpoint", required=True, help="folder written by `recserve train`")
    parser.add_argument("--out", required=True, help="new bundle folder, e.g. bundles/led/1")
    parser.add_argument(
        "--reranker",
        default=None,
        help="checkpoint of a re-ranker (`recserve train attention`) to add as the second stage",
    )
    parser.add_argument(
        "--rerank-n", type=int, default=100, help="candidates the re-ranker re-scores by default"
    )
    parser.add_argument("--target-recall", type=float, default=0.95, help="min HNSW recall@10")
    parser.add_argument(
        "--index-threads",
        type=int,
        default=None,
        help="HNSW build threads (default: recserve --threads or RECSERVE_THREADS, else 2)",
    )
    parser.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    import time

    from bundle.format import MANIFEST
    from bundle.manifest import Manifest
    from export.writer import ExportConfig, write_bundle
    from training.checkpoint import load_checkpoint

    started = time.perf_counter()
    checkpoint = load_checkpoint(args.checkpoint)
    threads = args.index_threads or int(os.environ.get("RECSERVE_THREADS", 0) or 0) or 2
    config = ExportConfig(target_recall=args.target_recall, threads=threads, rerank_n=args.rerank_n)
    second = load_checkpoint(args.reranker) if args.reranker else None
    out = write_bundle(checkpoint, args.out, config, second)
    m = Manifest.from_json((out / MANIFEST).read_text())
    print(
        f"bundle {out}: {m.model.kind}, {m.item_count} items, dim {m.dim}, "
        f"recall@10 {m.index.recall_at_10:.3f}, recall@100 {m.index.recall_at_100:.3f} "
        f"(M={m.index.M}, ef_construction={m.index.ef_construction}, "
        f"ef_search={m.index.ef_search}), "
        f"onnx-torch max error {m.checks['onnx_vs_torch_max_abs_error']:.1e}, "
        f"trend beta {m.semantics.trend.beta:g}, {time.perf_counter() - started:.1f} s"
    )
    if m.reranker is not None:
        r = m.reranker
        print(
            f"  re-ranker {r.model.kind}: top {r.candidates} re-scored, {r.known_items} of "
            f"{m.item_count} items known, onnx-torch max error "
            f"{r.checks['onnx_vs_torch_max_abs_error']:.1e}, trend beta {r.trend.beta:g}"
        )
    return 0
