"""Trained model -> bundle: ONNX user encoder, item vectors, HNSW index, manifest.

Reads a checkpoint written by ``recserve train`` (needs the ``train`` extra for
torch's ONNX exporter) and writes the folder described in ARCHITECTURE.md,
checking itself before the manifest is written.
"""
