"""Fixtures shared by the whole suite: small synthetic logs and the ML-100K path."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.data.synthetic import SyntheticConfig, SyntheticData, generate

REPO = Path(__file__).resolve().parents[1]
ML100K = REPO.parent / "shared" / "data" / "ml-100k"

SMALL = SyntheticConfig(seed=7, n_users=300, n_items=200, n_categories=10, days=30)


@pytest.fixture(scope="session")
def small_log() -> SyntheticData:
    """~20K events: tastes, sessions, event types, trends and cold items planted."""
    return generate(SMALL)


@pytest.fixture(scope="session")
def ml100k() -> Path:
    if not (ML100K / "ml-100k.inter").exists():
        pytest.skip(f"MovieLens-100K not found at {ML100K}")
    return ML100K
