import numpy as np

from training.data.interactions import Interactions
from training.pretrain.item2vec import Item2VecConfig, item2vec_embeddings, skipgram_pairs


def test_skipgram_pairs_are_within_the_window_both_ways():
    data = Interactions.build(["u"] * 4, ["a", "b", "c", "d"], [1, 2, 3, 4])
    pairs = {tuple(p) for p in skipgram_pairs(data, window=1).tolist()}
    assert pairs == {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)}
    assert len(skipgram_pairs(data, window=3)) == 12


def test_item2vec_groups_items_of_a_category(small_log):
    data = small_log.interactions
    vectors = item2vec_embeddings(data, Item2VecConfig(dim=16, epochs=3))
    cat = small_log.truth.item_category[np.array([int(s[5:]) for s in data.items.ids])]
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sim = v @ v.T
    same = cat[:, None] == cat[None, :]
    np.fill_diagonal(same, False)
    assert sim[same].mean() > sim[~same].mean() + 0.2
