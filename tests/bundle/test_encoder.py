import numpy as np

from bundle.history import Sequences


def test_encoder_reports_the_provider_it_runs_on_and_gpu_matches_cpu(led_bundle):
    # CI has no GPU: there the CPU provider is chosen. With onnxruntime-gpu and
    # a GPU the CUDA provider must be chosen and agree with the CPU session.
    import onnxruntime as ort
    import pytest

    from bundle.encoder import CPU, CUDA, Encoder, choose_providers
    from bundle.manifest import Manifest

    spec = Manifest.from_json((led_bundle / "manifest.json").read_text()).encoder
    cpu = Encoder(led_bundle / "encoder.onnx", spec, providers=[CPU])
    assert cpu.provider == CPU
    assert choose_providers(prefer_gpu=False) == [CPU]
    if CUDA not in ort.get_available_providers():
        assert choose_providers() == [CPU]
        pytest.skip("no onnxruntime CUDA provider here")
    gpu = Encoder(led_bundle / "encoder.onnx", spec, providers=choose_providers())
    assert gpu.provider == CUDA
    batch = Sequences.from_lists([[1, 2, 3], [4], [5, 6, 7, 8, 9]])
    now = np.full(3, 100.0)
    np.testing.assert_allclose(gpu.encode(batch, now), cpu.encode(batch, now), atol=1e-4)
