"""Stage ``encode``: the user's history (+ the query time, + their user-table row) ->
the user vector, by the bundle's ONNX encoder (``bundle.encoder``), or, for a
stateful bundle, the ``readout`` of the user's state (``service.core.states``;
the history stage caught it up with the stored events).

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
        bundle = call.bundle
        user = call.request.user_id
        users = bundle.user_context((user,))
        if memo.state is not None:  # caught up by the history stage
            assert bundle.states is not None
            memo.query = bundle.states.readout(memo.state, call.now, users)
        elif bundle.states is not None:  # with a re-ranker, the history stage mapped events
            state = self.states.current(bundle, user, call.events, persist=call.given is None)
            memo.query = bundle.states.readout(state, call.now, users)
        else:
            assert memo.history is not None  # the history stage maps it for an encoder
            memo.query = bundle.encoder.encode(memo.history, np.array([call.now]), users)[0]
        if bundle.reranker is None:  # the seen set and the query are all later stages need
            memo.history = None
