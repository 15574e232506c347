"""Stage ``encode``: the user's history (+ the query time, + their user-table row) ->
the user vector, by the bundle's ONNX encoder (``bundle.encoder``).

Runs once per memo: a cached user, or the cold-start source, passes through.
"""

from __future__ import annotations

import numpy as np

from service.core.stages.base import Call


class EncodeStage:
    name = "encode"

    def run(self, call: Call) -> None:
        memo = call.memo
        assert memo is not None  # the pipeline gives every call a memo before this stage
        if memo.encoded:
            return
        assert memo.history is not None
        bundle = call.bundle
        users = bundle.user_context((call.request.user_id,))
        memo.query = bundle.encoder.encode(memo.history, np.array([call.now]), users)[0]
        if bundle.reranker is None:  # the seen set and the query are all later stages need
            memo.history = None
