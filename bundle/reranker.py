"""The second stage at run time: an onnxruntime session over ``reranker.onnx``.

``Reranker.run`` cuts a history by the manifest's policy, builds the graph's
three inputs (``RERANK_INPUTS``) and returns a score per candidate and the last
layer's attention weights over the cut history's events, the same arrays the
exporter compared with the torch model before it published the bundle. A
candidate is ranked by ``score + blend * standardized(retrieval score)`` (the
blend chosen at export on validation users) plus the live trend term.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bundle.history import HistoryPolicy, Sequences, cut_history
from bundle.manifest import RERANK_INPUTS, RERANK_OUTPUTS


def rerank_inputs(
    policy: HistoryPolicy, history: Sequences, candidates: np.ndarray
) -> dict[str, np.ndarray]:
    """The graph's inputs for B histories (cut by ``policy``, padded at the end) and
    (B, C) candidate rows."""
    items, mask = cut_history(history, policy).padded()
    name_h, name_m, name_c = RERANK_INPUTS
    return {name_h: items, name_m: mask, name_c: np.array(candidates, dtype=np.int64, ndmin=2)}


BLENDS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)  # weights of the retrieval score tried


def standardized(scores: np.ndarray) -> np.ndarray:
    """(B, N) retrieval scores of the re-ranked candidates, centred and scaled per row:
    what the re-ranker's ``blend`` weighs, whatever the retrieval model's scale."""
    scores = np.asarray(scores, dtype=np.float32)
    centred = scores - scores.mean(axis=-1, keepdims=True)
    return centred / (centred.std(axis=-1, keepdims=True) + np.float32(1e-6))


class Reranker:
    """An onnxruntime session over one re-ranker graph plus its input builder."""

    def __init__(
        self, path: str | Path, policy: HistoryPolicy, providers: Sequence[str], threads: int = 1
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.policy = policy
        self.session = ort.InferenceSession(str(path), options, providers=list(providers))
        graph_in = [i.name for i in self.session.get_inputs()]
        graph_out = {o.name for o in self.session.get_outputs()}
        if sorted(graph_in) != sorted(RERANK_INPUTS) or not set(RERANK_OUTPUTS) <= graph_out:
            raise ValueError(
                f"graph maps {sorted(graph_in)} -> {sorted(graph_out)}, a re-ranker maps "
                f"{list(RERANK_INPUTS)} -> {list(RERANK_OUTPUTS)}"
            )

    def run(self, history: Sequences, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, C) float32 scores and (B, C, H) weights over the cut histories' events."""
        scores, weights = self.session.run(
            list(RERANK_OUTPUTS), rerank_inputs(self.policy, history, candidates)
        )
        return np.asarray(scores, np.float32), np.asarray(weights, np.float32)
