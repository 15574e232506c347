"""Stage ``encode``: the user's history (+ the query time, + their user-table row) ->
the user vector, by the bundle's ONNX encoder (``bundle.encoder``), or, for a
stateful bundle, the ``readout`` of the user's state (``service.core.states``:
caught up with the stored history first when RecordEvents did not already).

Runs once per memo: a cached user, or the cold-start source, passes through.
"""

from __future__ import annotations

import numpy as np

from service.core.stages.base import Call
from service.core.states import StateKeeper


class EncodeStage:
    name = "encode"

    def __init__(self, states: StateKeeper) -> None:
        self.states = states

    def run(self, call: Call) -> None:
        memo = call.memo
        assert memo is not None  # the pipeline gives every call a memo before this stage
        if memo.encoded:
            return
        assert memo.history is not None
        bundle = call.bundle
        user = call.request.user_id
        users = bundle.user_context((user,))
        if bundle.states is not None:
            persist = call.given is None  # a smoke test keeps nothing
            stored = self.states.load(bundle, user) if persist else None
            state, changed = self.states.catch_up(bundle, stored, call.events, users)
            if changed and persist:
                self.states.save(bundle, user, state)
            memo.query = bundle.states.readout(state, call.now, users)
        else:
            memo.query = bundle.encoder.encode(memo.history, np.array([call.now]), users)[0]
        if bundle.reranker is None:  # the seen set and the query are all later stages need
            memo.history = None
