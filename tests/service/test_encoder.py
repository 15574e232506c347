import numpy as np

from service.core.types import HistoryBatch
from service.encoder import HistoryPolicy, build_inputs, cut_history


def _batch(histories):
    lengths = [len(h) for h in histories]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    rows = np.array([i for h in histories for i in h], dtype=np.int64)
    ts = np.arange(len(rows), dtype=np.float64)
    return HistoryBatch(
        indptr, rows, ts, np.zeros(len(rows), np.int64), np.ones(len(rows), np.float32)
    )


def _reference(history, policy):
    """(position, item) pairs kept: each item's latest event if distinct, then the last N."""
    events = list(enumerate(history))
    if policy.distinct_items:
        latest = {item: pos for pos, item in events}
        events = [(pos, item) for pos, item in events if latest[item] == pos]
    return events[-policy.max_length :]


POLICIES = (HistoryPolicy(5, True), HistoryPolicy(5, False), HistoryPolicy(100, True))


def test_cut_history_matches_a_loop_for_a_batch_of_users():
    rng = np.random.default_rng(0)
    histories = [list(rng.integers(0, 6, size=rng.integers(0, 12))) for _ in range(30)]
    starts = np.cumsum([0] + [len(h) for h in histories])
    for policy in POLICIES:
        cut = cut_history(_batch(histories), policy)
        for b, history in enumerate(histories):
            part = slice(cut.indptr[b], cut.indptr[b + 1])
            expected = _reference(history, policy)
            assert cut.rows[part].tolist() == [item for _, item in expected]
            assert cut.timestamps[part].tolist() == [starts[b] + pos for pos, _ in expected]


def test_cut_history_of_one_user_matches_a_loop():
    rng = np.random.default_rng(1)
    for _ in range(40):
        history = list(rng.integers(0, 6, size=rng.integers(0, 12)))
        for policy in POLICIES:
            cut = cut_history(_batch([history]), policy)
            expected = _reference(history, policy)
            assert cut.indptr.tolist() == [0, len(expected)]
            assert cut.rows.tolist() == [item for _, item in expected]
            assert cut.timestamps.tolist() == [pos for pos, _ in expected]


def test_build_inputs_fills_each_input_kind():
    spec = {
        "inputs": [
            {"name": "items", "dtype": "int64", "fill": "item_rows"},
            {"name": "mask", "dtype": "float32", "fill": "mask"},
            {"name": "age", "dtype": "float32", "fill": "age_seconds"},
        ],
        "history": {"max_length": 10, "distinct_items": False},
    }
    inputs = build_inputs(spec, _batch([[4, 5], [6]]), np.array([10.0, 10.0]))
    assert inputs["items"].tolist() == [[4, 5], [6, 0]]
    assert inputs["mask"].tolist() == [[1, 1], [1, 0]]
    assert inputs["age"].tolist() == [[10, 9], [8, 0]]
    assert inputs["items"].dtype == np.int64 and inputs["mask"].dtype == np.float32


def test_encoder_reports_the_provider_it_runs_on_and_gpu_matches_cpu(led_bundle):
    # CI has no GPU: there the CPU provider is chosen. With onnxruntime-gpu and
    # a GPU the CUDA provider must be chosen and agree with the CPU session.
    import json

    import onnxruntime as ort
    import pytest

    from service.encoder import CPU, CUDA, Encoder, choose_providers

    spec = json.loads((led_bundle / "manifest.json").read_text())["encoder"]
    cpu = Encoder(led_bundle / "encoder.onnx", spec, providers=[CPU])
    assert cpu.provider == CPU
    assert choose_providers(prefer_gpu=False) == [CPU]
    if CUDA not in ort.get_available_providers():
        assert choose_providers() == [CPU]
        pytest.skip("no onnxruntime CUDA provider here")
    gpu = Encoder(led_bundle / "encoder.onnx", spec, providers=choose_providers())
    assert gpu.provider == CUDA
    batch = _batch([[1, 2, 3], [4], [5, 6, 7, 8, 9]])
    now = np.full(3, 100.0)
    np.testing.assert_allclose(gpu.encode(batch, now), cpu.encode(batch, now), atol=1e-4)
