import numpy as np
import pytest

from bundle.history import Sequences
from training.baselines.ease import EASE, spd_inverse
from training.data.interactions import Interactions


def test_spd_inverse_matches_numpy_inverse():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 40))
    spd = a @ a.T + 40 * np.eye(40)
    assert np.allclose(spd_inverse(spd.copy()), np.linalg.inv(spd), atol=1e-10)
    spd32 = spd.astype(np.float32)
    assert np.allclose(spd_inverse(spd32.copy()), np.linalg.inv(spd), rtol=1e-3, atol=1e-5)


def test_spd_inverse_rejects_indefinite_matrices():
    with pytest.raises(ValueError, match="positive definite"):
        spd_inverse(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_ease_weights_follow_steck_closed_form(small_log):
    data = small_log.interactions
    model = EASE(l2=50.0).fit(data)
    x = data.to_csr(binary=True).toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 50.0 * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    assert np.allclose(model._weights, b, atol=1e-5)
    history = Sequences.from_lists([[0, 3, 3]])
    expected = np.zeros(x.shape[1])
    expected[[0, 3]] = 1.0
    assert np.allclose(model.score(history, np.zeros(1))[0], expected @ b, atol=1e-5)


def test_float32_path_agrees_with_float64(small_log):
    data = small_log.interactions
    exact = EASE(l2=100.0).fit(data)
    single = EASE(l2=100.0, float64_max_items=10).fit(data)
    assert np.allclose(exact._weights, single._weights, atol=1e-4)


def test_ease_rejects_nonpositive_l2():
    with pytest.raises(ValueError):
        EASE(l2=0)


def test_ease_scores_an_item_never_co_occurring_at_zero():
    data = Interactions.build(["a", "a", "b"], ["x", "y", "z"], [1, 2, 3])
    scores = EASE(l2=1.0).fit(data).score(Sequences.from_lists([[0]]), np.zeros(1))
    assert scores[0, 2] == 0.0 and scores[0, 1] > 0.0


def test_mirror_lower_fills_the_upper_triangle_across_blocks():
    from training.baselines.ease import _mirror_lower

    rng = np.random.default_rng(1)
    full = rng.normal(size=(11, 11))
    full = full + full.T
    lower = np.tril(full)
    _mirror_lower(lower, block=3)
    assert np.array_equal(lower, full)


def test_spd_inverse_accepts_fortran_ordered_input():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(30, 30))
    spd = np.asfortranarray(a @ a.T + 30 * np.eye(30))
    assert np.allclose(spd_inverse(spd.copy(order="F")), np.linalg.inv(spd), atol=1e-10)
