"""Every servable model, end to end: train on tiny synthetic data, export, serve over
loopback, and check that the server answers with the offline model's own scores.

A model gets this test by registering: the parameters below only make training
short (``max_epochs`` bounds every torch model) and the networks small.
"""

from __future__ import annotations

import time

import grpc
import numpy as np
import pytest
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from bundle.history import Sequences
from export.writer import write_bundle
from tests.conftest import train_checkpoint
from tests.service.conftest import running
from training.checkpoint import load_checkpoint
from training.jobs.source import SplitSpec
from training.models.base import RetrievalModel
from training.registry import model_class, servable

TINY = {
    "led": {"dim": 16, "negatives": 50},
    "predictor": {"hidden": (32, 16), "windows": 3, "lr": 0.01},
    "attrec": {"dim": 16, "batch_size": 256},
    "hrnn": {"hidden": 16, "item_dim": 8, "meta_dim": 8, "bptt": 50},
}
NOW = 1_800_000_000.0  # after the synthetic log, so every event has an age


def test_every_retrieval_model_is_covered_here():
    assert {n for n in servable() if issubclass(model_class(n), RetrievalModel)} == set(TINY)


@pytest.fixture(scope="module", params=sorted(TINY))
def trained(request, tmp_path_factory, small_log):
    name = request.param
    root = tmp_path_factory.mktemp(name)
    params = {**TINY[name], "max_epochs": 3}
    folder = train_checkpoint(root, small_log, name, params, split=SplitSpec("leave-last-out"))
    checkpoint = load_checkpoint(folder)
    bundle = write_bundle(checkpoint, root / "bundles" / name / "1")
    with (
        running(bundle, trend_beta=0.0, explain_items=100) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel,
    ):
        yield checkpoint, server, rpc.RecommenderStub(channel)


def _record(stub, user: str, items: list[str], stamps: list[float]) -> None:
    events = [pb.Event(user_id=user, item_id=i, timestamp=t, event_type="view")
              for i, t in zip(items, stamps, strict=True)]  # fmt: skip
    assert stub.RecordEvents(pb.RecordEventsRequest(events=events)).accepted == len(events)


def _offline(
    checkpoint, rows: np.ndarray, stamps: np.ndarray, user: int, now: float = NOW
) -> np.ndarray:
    """The model's own (I,) scores for one history, as `recserve evaluate` computes them."""
    view = checkpoint.event_types.index("view")
    history = Sequences.single(rows, stamps, np.full(len(rows), view), np.ones(len(rows)))
    return checkpoint.model.score(history, np.array([now]), np.array([user]))[0]


@pytest.mark.parametrize("known", [True, False])
def test_served_scores_are_the_offline_model_scores(trained, known):
    checkpoint, _, stub = trained
    validation = checkpoint.validation
    users = checkpoint.users.ids
    found = 0
    for r in range(6):
        part = validation.history.take([r])
        rows, stamps = part.item.astype(np.int64)[-40:], part.timestamp[-40:]
        user = int(validation.users[r])
        name = users[user] if known else f"newcomer-{r}-{time.time_ns()}"
        _record(stub, name, [checkpoint.items.ids[i] for i in rows], stamps.tolist())
        reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=20, now=NOW))
        assert reply.personalized
        offline = _offline(checkpoint, rows, stamps, user if known else -1)
        served = np.array([checkpoint.items.index_of(i.item_id)[0] for i in reply.items])
        scores = np.array([i.score for i in reply.items])
        np.testing.assert_allclose(scores, offline[served], rtol=1e-4, atol=1e-4)
        offline[np.unique(rows)] = -np.inf
        twentieth = np.sort(offline)[-20]
        found += int((offline[served] >= twentieth - 1e-5).sum())
    assert found >= 0.9 * 6 * 20  # HNSW finds the exact top 20


def test_cold_start_follows_the_declared_semantics(trained):
    checkpoint, server, stub = trained
    bundle = server.bundles.current
    reply = stub.Recommend(pb.RecommendRequest(user_id=f"cold-{time.time_ns()}", k=10, now=NOW))
    assert not reply.personalized and reply.fallback_reason == "no_history"
    cold = bundle.manifest.semantics.cold_start
    if cold.kind == "query":
        expected = bundle.vectors @ np.asarray(cold.query, np.float32)
    else:
        expected = np.log1p(checkpoint.item_counts).astype(np.float32)
    served = bundle.items.rows([i.item_id for i in reply.items])
    np.testing.assert_allclose([i.score for i in reply.items], expected[served], rtol=1e-5)
    assert set(served.tolist()) == set(np.lexsort((np.arange(len(expected)), -expected))[:10])


def test_similar_items_follow_the_declared_semantics(trained):
    checkpoint, server, stub = trained
    bundle = server.bundles.current
    row = int(np.argmax(checkpoint.item_counts))
    reply = stub.SimilarItems(pb.SimilarItemsRequest(item_id=bundle.items.ids[row], k=10))
    query = bundle.manifest.semantics.similar_items.apply(bundle.vectors[row])
    expected = bundle.vectors @ query
    expected[row] = -np.inf
    served = bundle.items.rows([i.item_id for i in reply.items])
    np.testing.assert_allclose([i.score for i in reply.items], expected[served], rtol=1e-4)
    assert len(set(served.tolist()) & set(np.argsort(-expected)[:10].tolist())) >= 9


def test_the_bundle_carries_its_model_and_a_calibrated_trend_weight(trained):
    checkpoint, server, _ = trained
    manifest = server.bundles.current.manifest
    assert manifest.model.kind == checkpoint.kind
    trend = manifest.semantics.trend
    grid = trend.calibration["grid"]
    assert trend.beta == max((float(b) for b in grid), key=lambda b: (grid[f"{b:g}"], -b))
    assert server.service.score.trend_terms(server.bundles.current) == (0.0, trend.alpha)


def _by_item(checkpoint, rows: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for row, weight in zip(rows.tolist(), np.asarray(weights, np.float64).tolist(), strict=True):
        item = checkpoint.items.ids[row]
        out[item] = out.get(item, 0.0) + weight
    return out


def test_every_recommended_item_is_explained_as_the_model_declares(trained):
    checkpoint, server, stub = trained
    bundle = server.bundles.current
    kind = bundle.manifest.semantics.explanation
    part = checkpoint.validation.history.take([1])
    rows, stamps = part.item.astype(np.int64)[-8:], part.timestamp[-8:]
    name = f"explained-{time.time_ns()}"
    _record(stub, name, [checkpoint.items.ids[i] for i in rows], stamps.tolist())
    reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=5, now=NOW, explain=True))
    plain = stub.Recommend(pb.RecommendRequest(user_id=name, k=5, now=NOW))
    assert [i.item_id for i in reply.items] == [i.item_id for i in plain.items]
    assert not any(i.HasField("explanation") for i in plain.items)  # no cost unless asked
    view = checkpoint.event_types.index("view")
    model = checkpoint.model
    for item in reply.items:
        why = item.explanation
        assert why.kind == kind and why.items
        got = {i.item_id: i.weight for i in why.items}
        j = int(checkpoint.items.index_of(item.item_id)[0])
        if kind == "additive":  # LED: <v_i, v_j> / n, and the bias is the rest
            distinct = np.unique(rows)
            v = model.item_vectors()
            want = _by_item(checkpoint, distinct, v[distinct, :-1] @ v[j, :-1] / len(distinct))
            assert why.rest == pytest.approx(v[j, -1], abs=1e-4)
            assert sum(got.values()) + why.rest == pytest.approx(item.score, abs=1e-4)
        elif kind == "attention":  # the encoder module's own weights (AttRec: eqs. 4-6)
            history = Sequences.single(rows, stamps, np.full(len(rows), view), np.ones(len(rows)))
            inputs = model.encoder_inputs(history, np.array([NOW]), np.array([-1]))
            spec = model.encoder_spec()
            import torch

            with torch.no_grad():
                _, weights = model.export_encoder()(
                    *(torch.from_numpy(inputs[e.name]) for e in spec.inputs)
                )
            want = _by_item(checkpoint, inputs[spec.inputs[0].name][0], weights[0].numpy())
        else:  # leave-one-out: the model's score drop without each item's events
            full = _offline(checkpoint, rows, stamps, -1)[j]
            distinct = np.unique(rows)
            drops = [full - _offline(checkpoint, rows[rows != u], stamps[rows != u], -1)[j]
                     for u in distinct]  # fmt: skip
            want = _by_item(checkpoint, distinct, np.array(drops))
        for item_id, weight in got.items():
            assert weight == pytest.approx(want[item_id], abs=1e-4)
        assert set(got) == set(want)  # every history item, as explain_items allows


STATEFUL = {"led", "hrnn", "attrec"}  # recurrences: a running mean, a GRU, a sum and a window


def test_stateful_models_step_each_event_and_answer_as_the_one_pass_encoder(trained):
    """Events recorded one call at a time, Recommend between them: RecordEvents steps
    the user's stored state (its cursor is the latest event), Recommend reads it out,
    and the answer's scores are the offline model's over the whole history."""
    from service.core.states import state_key

    checkpoint, server, stub = trained
    bundle = server.bundles.current
    assert (bundle.states is not None) == (checkpoint.kind in STATEFUL)
    if bundle.states is None:
        return
    assert bundle.manifest.stateful.checks["stateful_vs_encoder_max_abs_error"] <= 1e-4
    counter = server.metrics.user_states
    stepped = counter.labels("stepped")._value.get()
    part = checkpoint.validation.history.take([2])
    rows, stamps = part.item.astype(np.int64)[-12:], part.timestamp[-12:]
    name = f"stepped-{time.time_ns()}"
    for n in range(1, len(rows) + 1):
        _record(stub, name, [checkpoint.items.ids[rows[n - 1]]], [float(stamps[n - 1])])
        stored = server.service.states.load(bundle, name)
        assert stored.events == n and stored.cursor[1] == checkpoint.items.ids[rows[n - 1]]
        if n % 4 == 0:
            reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=NOW))
            offline = _offline(checkpoint, rows[:n], stamps[:n], -1)
            served = np.array([checkpoint.items.index_of(i.item_id)[0] for i in reply.items])
            np.testing.assert_allclose([i.score for i in reply.items], offline[served],
                                       rtol=1e-4, atol=1e-4)  # fmt: skip
    assert counter.labels("stepped")._value.get() - stepped >= len(rows) - 1
    # an item already in the history, stepped (LED's mean counts each item once)
    rows, stamps = np.append(rows, rows[1]), np.append(stamps, stamps[-1] + 30.0)
    _record(stub, name, [checkpoint.items.ids[rows[-1]]], [float(stamps[-1])])
    assert server.service.states.load(bundle, name).cursor[2] == float(stamps[-1])
    reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=NOW))
    offline = _offline(checkpoint, rows, stamps, -1)
    served = np.array([checkpoint.items.index_of(i.item_id)[0] for i in reply.items])
    np.testing.assert_allclose([i.score for i in reply.items], offline[served], rtol=1e-4,
                               atol=1e-4)  # fmt: skip
    # a damaged state is recomputed from the history, never served
    server.store.put_state(name, state_key(bundle), b"not a state")
    rows, stamps = np.append(rows, rows[0]), np.append(stamps, stamps[-1] + 60.0)
    _record(stub, name, [checkpoint.items.ids[rows[-1]]], [float(stamps[-1])])
    reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=NOW))
    offline = _offline(checkpoint, rows, stamps, -1)
    served = np.array([checkpoint.items.index_of(i.item_id)[0] for i in reply.items])
    np.testing.assert_allclose([i.score for i in reply.items], offline[served], rtol=1e-4,
                               atol=1e-4)  # fmt: skip
    assert server.service.states.load(bundle, name).cursor[2] == float(stamps[-1])


def test_a_timed_readout_is_reused_until_the_query_time_crosses_a_declared_edge(trained):
    """HRNN-meta's readout reads the time since the last event through log2 buckets: the
    bundle declares the edges (checked at export), and the server keeps the user's
    answer until the query time crosses one, then reads out again, exactly. A one-pass
    encoder of event ages (the predictor's time decay) is never kept."""
    checkpoint, server, stub = trained
    bundle = server.bundles.current
    if not bundle.manifest.encoder.now_dependent:
        return  # its answers do not move with the query time: cached per history
    edges = bundle.readout_edges
    if bundle.states is not None:
        assert edges is not None and edges[:3] == (1.0, 3.0, 7.0)
        assert bundle.manifest.stateful.checks["readout_change_between_edges"] <= 1e-6
    else:
        assert edges is None
    hits = server.metrics.user_cache.labels("hit")
    part = checkpoint.validation.history.take([3])
    rows, stamps = part.item.astype(np.int64)[-6:], part.timestamp[-6:]
    name = f"timed-{time.time_ns()}"
    _record(stub, name, [checkpoint.items.ids[r] for r in rows], stamps.tolist())
    last = float(stamps[-1])
    answers = []
    for since in (70.0, 120.0, 130.0):  # 70 and 120 s share [63, 127); 130 s is past it
        before = hits._value.get()
        reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=last + since))
        offline = _offline(checkpoint, rows, stamps, -1, last + since)
        served = np.array([checkpoint.items.index_of(i.item_id)[0] for i in reply.items])
        np.testing.assert_allclose([i.score for i in reply.items], offline[served],
                                   rtol=1e-4, atol=1e-4)  # fmt: skip
        answers.append((hits._value.get() - before, [i.score for i in reply.items]))
    if edges is None:
        assert [hit for hit, _ in answers] == [0, 0, 0]
        return
    assert [hit for hit, _ in answers] == [0, 1, 0]
    assert answers[1][1] == answers[0][1]
    assert answers[2][1] != answers[1][1]
