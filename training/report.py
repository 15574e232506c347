"""Plain-text tables of evaluation results (one block per cut-off K)."""

from __future__ import annotations

from training.metrics import METRICS_AT_K


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def format_results(results: dict[str, dict[str, float]], ks: tuple[int, ...]) -> str:
    """One table per K (ndcg, hr, recall, precision, pcc, coverage), MRR in the first."""
    blocks = []
    for n, k in enumerate(sorted(set(ks))):
        header = ["model", *(f"{m}@{k}" for m in METRICS_AT_K)] + (["mrr"] if n == 0 else [])
        rows = []
        for model, metrics in results.items():
            cells = [f"{metrics.get(h, float('nan')):.4f}" for h in header[1:]]
            rows.append([model, *cells])
        blocks.append(format_table(header, rows))
    return "\n\n".join(blocks)
