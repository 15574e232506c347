import numpy as np
import pytest
import scipy.sparse as sp

from bundle.history import Sequences
from training.pretrain.cooccurrence import cooccurrence, pmi
from training.pretrain.pmi_svd import PMISVDConfig, pmi_svd_embeddings
from training.pretrain.rsvd import randomized_svd


def _category_separation(log, vectors):
    data = log.interactions
    cat = log.truth.item_category[np.array([int(s[5:]) for s in data.items.ids])]
    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    sim = v @ v.T
    same = cat[:, None] == cat[None, :]
    np.fill_diagonal(same, False)
    other = ~same
    np.fill_diagonal(other, False)
    return sim[same].mean(), sim[other].mean()


def test_windowed_cooccurrence_matches_a_loop():
    seqs = Sequences.from_lists([[0, 1, 2, 1], [3, 0], [2]])
    got = cooccurrence(seqs, 4, window=2).toarray()
    want = np.zeros((4, 4))
    for row in [[0, 1, 2, 1], [3, 0], [2]]:
        for i, a in enumerate(row):
            for j in range(i + 1, min(i + 3, len(row))):
                if a != row[j]:
                    want[a, row[j]] += 1
                    want[row[j], a] += 1
    assert np.array_equal(got, want)


def test_whole_timeline_cooccurrence_counts_timelines_once():
    seqs = Sequences.from_lists([[0, 1, 0, 1], [0, 1], [1, 2]])
    got = cooccurrence(seqs, 3).toarray()
    assert got[0, 1] == 2 and got[1, 2] == 1 and got[0, 2] == 0
    assert np.all(np.diag(got) == 0)


def test_pmi_follows_the_smoothed_formula():
    counts = sp.csr_matrix(np.array([[0, 4, 1], [4, 0, 2], [1, 2, 0]], dtype=float))
    got = pmi(counts, smoothing=0.75, variant="pmi").toarray()
    c = counts.toarray()
    total, row = c.sum(), c.sum(1)
    ctx = c.sum(0) ** 0.75
    ctx = ctx / ctx.sum()
    for i, j in [(0, 1), (0, 2), (1, 2), (2, 0)]:
        assert got[i, j] == pytest.approx(
            np.log(c[i, j] / total) - np.log(row[i] / total) - np.log(ctx[j]), rel=1e-5
        )
    sppmi = pmi(counts, variant="sppmi", shift=2.0).toarray()
    assert (sppmi >= 0).all()
    assert np.allclose(sppmi[c > 0], np.maximum(got[c > 0] - np.log(2.0), 0), atol=1e-5)
    with pytest.raises(ValueError, match="unknown PMI variant"):
        pmi(counts, variant="npmi")


def test_randomized_svd_recovers_the_top_singular_values():
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 150))
    matrix = sp.csr_matrix(low_rank + 0.01 * rng.normal(size=(200, 150)))
    u, s, _ = randomized_svd(matrix, 8)
    exact = np.linalg.svd(matrix.toarray(), compute_uv=False)[:8]
    assert np.allclose(s, exact, rtol=1e-4)
    assert np.allclose(u.T @ u, np.eye(8), atol=1e-8)
    with pytest.raises(ValueError):
        randomized_svd(matrix, 0)


def test_pmi_svd_embeddings_group_items_of_a_category(small_log):
    vectors = pmi_svd_embeddings(small_log.interactions, PMISVDConfig(dim=24))
    assert vectors.shape == (small_log.interactions.n_items, 24)
    same, other = _category_separation(small_log, vectors)
    assert same > other + 0.3


def test_pmi_svd_can_use_view_events_only(small_log):
    # Whole timelines: clicks add no new (user, item) pair, so only a window shows it.
    views = PMISVDConfig(dim=8, window=2, event_types=("view",))
    everything = PMISVDConfig(dim=8, window=2)
    a = pmi_svd_embeddings(small_log.interactions, views)
    b = pmi_svd_embeddings(small_log.interactions, everything)
    assert a.shape == b.shape and not np.allclose(np.abs(a), np.abs(b), atol=1e-3)
