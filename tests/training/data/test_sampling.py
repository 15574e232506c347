import numpy as np
import pytest

from training.data.sampling import AliasSampler, popularity_distribution, sample_negatives


def test_alias_sampler_reproduces_the_distribution():
    p = np.array([0.5, 0.3, 0.15, 0.05, 0.0])
    sampler = AliasSampler(p)
    draws = sampler.sample(np.random.default_rng(0), 200_000)
    freq = np.bincount(draws, minlength=5) / len(draws)
    assert np.allclose(freq, p, atol=0.005)
    assert freq[4] == 0


def test_popularity_distribution_gamma():
    counts = np.array([1.0, 16.0])
    assert np.allclose(popularity_distribution(counts, 0.0), [0.5, 0.5])
    assert np.allclose(popularity_distribution(counts, 1.0), [1 / 17, 16 / 17])
    assert np.allclose(popularity_distribution(counts, 0.75), [1 / 9, 8 / 9])


def test_sample_negatives_avoid_forbidden_items():
    sampler = AliasSampler(np.ones(10))
    forbidden = np.zeros((3, 10), dtype=bool)
    forbidden[0, :8] = True
    neg = sample_negatives(sampler, np.random.default_rng(1), 20, forbidden)
    assert set(neg[0].tolist()) <= {8, 9}
    with pytest.raises(ValueError):
        sample_negatives(sampler, np.random.default_rng(1), 5, np.ones((1, 10), dtype=bool))


def test_alias_sampler_rejects_bad_weights():
    with pytest.raises(ValueError):
        AliasSampler(np.array([-1.0, 2.0]))
