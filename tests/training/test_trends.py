"""Offline decayed item counts: the per-item running counts equal the sum over the log."""

from __future__ import annotations

import numpy as np

from training.trends import DecayedCounter, decayed_counts

DAY = 86400.0


def test_running_counts_equal_the_decayed_sum_over_the_events_strictly_before(small_log):
    data = small_log.interactions
    rng = np.random.default_rng(0)
    now = np.sort(rng.uniform(data.timestamp.min() - 10, data.timestamp.max() + 30 * DAY, 100))
    now[:5] = np.sort(data.timestamp)[[0, 10, 20, 30, 40]]  # at an event: it does not count
    exact = decayed_counts(data, now, DAY, horizon=500).toarray()
    counter = DecayedCounter(data, DAY)
    np.testing.assert_allclose(counter.at(now), exact, rtol=1e-9, atol=1e-12)
    cols = rng.integers(0, data.n_items, (len(now), 7))
    np.testing.assert_allclose(counter.at(now, cols), exact[np.arange(len(now))[:, None], cols],
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    assert counter.at(now[:1] - DAY).sum() == 0.0  # before the log: nothing yet
