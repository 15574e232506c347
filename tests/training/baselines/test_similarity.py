import numpy as np
import scipy.sparse as sp

from training.baselines.similarity import cosine_similarity


def _reference(x, neighbours, shrink):
    x = np.asarray(x, dtype=float)
    n = x.shape[1]
    out = np.zeros((n, n))
    for i in range(n):
        row = np.zeros(n)
        for j in range(n):
            if i != j:
                co = float(x[:, i] @ x[:, j])
                row[j] = co / (np.sqrt(x[:, i].sum() * x[:, j].sum()) + shrink + 1e-12)
        keep = np.argsort(-row, kind="stable")[:neighbours]
        out[i, keep] = row[keep]
    return out


def test_cosine_similarity_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    x = (rng.random((60, 25)) < 0.2).astype(np.float32)
    for neighbours, shrink in ((5, 0.0), (24, 10.0), (3, 2.0)):
        got = cosine_similarity(sp.csr_matrix(x), neighbours, shrink, block=7).toarray()
        want = _reference(x, neighbours, shrink)
        # pruning may keep a different item among exact ties: compare sorted rows
        assert np.allclose(np.sort(got, axis=1), np.sort(want, axis=1), atol=1e-6)
        assert np.all((got > 0).sum(axis=1) <= neighbours)
        assert np.all(np.diag(got) == 0)


def test_pruning_breaks_ties_towards_the_lower_item_and_keep_top_agrees():
    from training.baselines.similarity import keep_top

    # item 0 co-occurs once with each of items 1..300 (one user each): a 300-way tie
    users = np.repeat(np.arange(300), 2)
    items = np.ravel(np.column_stack([np.zeros(300, int), np.arange(1, 301)]))
    x = sp.csr_matrix((np.ones(600, np.float32), (users, items)), shape=(300, 301))
    for neighbours in (1, 10, 50):
        pruned = cosine_similarity(x, neighbours=neighbours)
        assert sorted(pruned.getrow(0).indices) == list(range(1, neighbours + 1))
        wide = keep_top(cosine_similarity(x, neighbours=100), neighbours)
        assert (wide != pruned).nnz == 0
