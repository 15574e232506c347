"""Every re-ranker as the second stage of a served bundle: trained on tiny synthetic data,
exported beside each retrieval model (LED, AttRec, the predictor) into one bundle, served
over loopback; the server's re-ranked answer must be the offline re-ranker's own scores
of the retrieval model's best candidates.

A re-ranker gets this test by registering (``TINY`` only keeps training short).
"""

from __future__ import annotations

import json
import time

import grpc
import httpx
import numpy as np
import pytest
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from bundle.errors import BundleError
from bundle.history import Sequences
from bundle.loader import Bundle
from bundle.reranker import standardized
from export.writer import ExportConfig, write_bundle
from tests.conftest import train_checkpoint
from tests.service.conftest import running
from training.checkpoint import load_checkpoint
from training.jobs.source import SplitSpec
from training.models.base import Reranker
from training.registry import model_class, servable

TINY = {
    "attention": {"depth": 2, "hidden": 16, "history": 20, "negatives": 30,
                  "item2vec.epochs": 1, "item2vec.dim": 16},
}  # fmt: skip
NOW = 1_800_000_000.0
RERANK_N = 30


def test_every_registered_reranker_is_covered_here():
    assert {n for n in servable() if issubclass(model_class(n), Reranker)} == set(TINY)


# the retrieval models a re-ranker is served behind (LED's checkpoint is the suite's own)
RETRIEVAL = {
    "attrec": {"dim": 16, "batch_size": 256, "max_epochs": 2},
    "predictor": {"hidden": (32, 16), "windows": 3, "lr": 0.01, "max_epochs": 2},
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, small_log, led_checkpoint):
    """Each model's checkpoint on the synthetic log, trained once for the module."""
    found = {"led": led_checkpoint}

    def get(name: str):
        if name not in found:
            root = tmp_path_factory.mktemp(name)
            params = {**TINY[name], "max_epochs": 2} if name in TINY else RETRIEVAL[name]
            found[name] = train_checkpoint(root, small_log, name, params,
                                           split=SplitSpec("user-holdout"))  # fmt: skip
        return load_checkpoint(found[name])

    return get


@pytest.fixture(
    scope="module", params=[(r, f) for r in sorted(TINY) for f in ("led", *sorted(RETRIEVAL))]
)
def served(request, tmp_path_factory, checkpoints):
    name, retrieval = request.param
    root = tmp_path_factory.mktemp(f"{retrieval}+{name}")
    second, first = checkpoints(name), checkpoints(retrieval)
    bundle = write_bundle(first, root / "bundles" / retrieval / "1",
                          ExportConfig(rerank_n=RERANK_N), second)  # fmt: skip
    # overfetch 20 x k 10 covers the 200 items: retrieval is exact, so the candidates the
    # server re-ranks are the retrieval answer's top rerank_n whatever k a call asks for
    with (
        running(bundle, trend_beta=0.0, overfetch=20) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel,
    ):
        yield first, second, server, rpc.RecommenderStub(channel)


def _history(stub, checkpoint, r: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    part = checkpoint.validation.history.take([r])
    rows, stamps = part.item.astype(np.int64)[-30:], part.timestamp[-30:]
    events = [pb.Event(user_id=name, item_id=checkpoint.items.ids[i], timestamp=t,
                       event_type="view") for i, t in zip(rows, stamps, strict=True)]  # fmt: skip
    assert stub.RecordEvents(pb.RecordEventsRequest(events=events)).accepted == len(events)
    return rows, stamps


def test_the_served_answer_is_the_rerankers_order_of_the_retrieval_candidates(served):
    first, second, server, stub = served
    spec = server.bundles.current.manifest.reranker
    assert spec is not None and spec.candidates == RERANK_N
    assert spec.known_items == len(first.items)
    assert f"{spec.blend:g}" in spec.blend_calibration["grid"]
    for r in range(4):
        name = f"user-{r}-{time.time_ns()}"
        rows, stamps = _history(stub, first, r, name)
        history = Sequences.single(rows, stamps, np.zeros(len(rows)), np.ones(len(rows)))
        reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=NOW))
        plain = stub.Recommend(pb.RecommendRequest(user_id=name, k=RERANK_N, now=NOW, rerank_n=0))
        assert reply.personalized
        candidates = first.items.index_of([i.item_id for i in plain.items])
        offline = second.model.score_candidates(history, np.array([NOW]), candidates[None, :])[0]
        # beta_r * log(alpha_r + 0): the candidates have no live trend counts
        trend = spec.trend.beta * np.log(spec.trend.alpha)
        z = standardized(np.array([[i.score for i in plain.items]]))[0]
        combined = offline + spec.blend * z + trend
        expected = {first.items.ids[c]: s for c, s in zip(candidates, combined, strict=True)}
        served_ids = [i.item_id for i in reply.items]
        want = [expected[i] for i in served_ids]
        np.testing.assert_allclose([i.score for i in reply.items], want, rtol=1e-4, atol=1e-4)
        tenth = sorted(expected.values(), reverse=True)[9]
        assert all(expected[i] >= tenth - 1e-4 for i in served_ids)  # the re-ranked top 10
        assert want == sorted(want, reverse=True)


def test_rerank_n_zero_answers_in_retrieval_order_and_too_many_is_refused(served):
    first, _, server, stub = served
    name = f"plain-{time.time_ns()}"
    _history(stub, first, 5, name)
    plain = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=NOW, rerank_n=0))
    scores = [i.score for i in plain.items]
    assert scores == sorted(scores, reverse=True)
    limit = server.settings.max_rerank_n
    with pytest.raises(grpc.RpcError) as error:
        stub.Recommend(pb.RecommendRequest(user_id=name, k=10, rerank_n=limit + 1))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rerank_n" in error.value.details()
    url = f"http://127.0.0.1:{server.http_port}/v1/recommendations/{name}"
    bad = httpx.get(url, params={"rerank_n": -1})
    assert bad.status_code == 422 and "rerank_n" in bad.text
    assert httpx.get(url, params={"rerank_n": 5, "k": 3}).status_code == 200


def test_reranking_is_counted(served):
    first, _, server, stub = served
    name = f"counted-{time.time_ns()}"
    _history(stub, first, 6, name)
    done = server.metrics.rerank.labels("done")
    before = done._value.get()
    stub.Recommend(pb.RecommendRequest(user_id=name, k=5))
    assert done._value.get() == before + 1


def test_a_reranker_aligned_to_another_item_table_is_refused(served, tmp_path):
    import shutil

    _, _, server, _ = served
    copy = tmp_path / "led" / "2"
    shutil.copytree(server.bundles.current.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["reranker"]["items_sha256"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="another item table"):
        Bundle.load(copy)


def test_reranked_items_are_explained_by_the_rerankers_own_attention(served):
    first, second, server, stub = served
    name = f"explained-{time.time_ns()}"
    rows, stamps = _history(stub, first, 7, name)
    reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=5, now=NOW, explain=True))
    history = Sequences.single(rows, stamps, np.zeros(len(rows)), np.ones(len(rows)))
    cut = history.last(second.model.history_policy().max_length)
    for item in reply.items:
        assert item.explanation.kind == "attention"
        candidate = first.items.index_of([item.item_id])
        _, weights = second.model.explain_candidates(history, candidate[None, :])
        want: dict[str, float] = {}
        for row, w in zip(cut.item.tolist(), weights[0, 0].tolist(), strict=True):
            want[first.items.ids[row]] = want.get(first.items.ids[row], 0.0) + w
        top = sorted(want, key=lambda i: -abs(want[i]))[: server.settings.explain_items]
        got = {i.item_id: i.weight for i in item.explanation.items}
        assert set(got) == set(top)
        for item_id, weight in got.items():
            assert weight == pytest.approx(want[item_id], abs=1e-4)


def test_a_reranker_over_its_time_budget_leaves_the_retrieval_order_and_is_counted(served):
    first, _, server, _ = served
    with (
        running(server.bundles.current.path, trend_beta=0.0, rerank_budget_ms=1e-6) as slow,
        grpc.insecure_channel(f"127.0.0.1:{slow.grpc_port}") as channel,
    ):
        stub = rpc.RecommenderStub(channel)
        name = f"budget-{time.time_ns()}"
        _history(stub, first, 8, name)
        over = slow.metrics.rerank.labels("over_budget")
        before = over._value.get()
        reply = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=NOW))
        plain = stub.Recommend(pb.RecommendRequest(user_id=name, k=10, now=NOW, rerank_n=0))
        assert over._value.get() == before + 1
        assert [i.item_id for i in reply.items] == [i.item_id for i in plain.items]
        assert [i.score for i in reply.items] == [i.score for i in plain.items]
