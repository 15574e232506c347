from training.data.splits import split
from training.evaluate import EvalConfig
from training.tuning import grid, tune


def test_grid_leaves_fixed_parameters_alone():
    space = {"a": (1, 2), "b": (3, 4)}
    assert grid(space, {"a": 9}) == [{"a": 9, "b": 3}, {"a": 9, "b": 4}]
    assert len(grid(space, {})) == 4
    assert grid({}, {"x": 1}) == [{"x": 1}]


def test_tune_keeps_the_best_validation_model(small_log):
    parts = split(small_log.interactions, "leave-last-out")
    result = tune("itemknn", parts, EvalConfig(ks=(10,)), fixed={"shrink": 0.0})
    assert result.metric == "ndcg@10"
    assert len(result.trials) == 5  # the neighbours grid; shrink fixed
    best = max(result.trials, key=lambda t: t["ndcg@10"])
    assert result.params == best["params"]
    assert result.model.neighbours == best["params"]["neighbours"]


def test_single_point_grid_skips_validation(small_log):
    parts = split(small_log.interactions, "leave-last-out")
    result = tune("popularity", parts, EvalConfig(ks=(10,)))
    assert result.trials == [] and result.params == {}


def test_grid_points_are_compared_on_a_seeded_sample_of_validation_users(small_log):
    from training.tuning import sample_users

    parts = split(small_log.interactions, "leave-last-out")
    sample = sample_users(parts.valid, 100, seed=3)
    assert len(sample) == 100 and len(set(sample.users)) == 100
    assert set(sample.users) <= set(parts.valid.users)
    assert list(sample.users) == list(sample_users(parts.valid, 100, seed=3).users)
    assert sample_users(parts.valid, 0, seed=3) is parts.valid
    result = tune("itemknn", parts, EvalConfig(ks=(10,)), {"shrink": 0.0}, max_users=100)
    assert result.users == 100


def test_ease_compares_lambdas_on_the_popular_items_and_fits_the_best_on_every_item(
    small_log, monkeypatch
):
    import numpy as np

    from training.baselines.ease import EASE
    from training.tuning import most_popular, restrict_eval, restrict_items

    parts = split(small_log.interactions, "leave-last-out")
    n = parts.train.n_items
    monkeypatch.setattr(EASE, "tuning_items", 50)
    result = tune("ease", parts, EvalConfig(ks=(10,)))
    assert result.items == 50 and len(result.trials) == len(EASE.search_space["l2"])
    assert result.model._weights.shape == (n, n)  # refit on the whole catalogue
    best = max(result.trials, key=lambda t: t["ndcg@10"])
    assert result.params == best["params"]
    # the sub-problem: the 50 most frequent items, events and targets re-indexed
    keep = most_popular(parts.train, 50)
    counts = np.bincount(parts.train.item, minlength=n)
    assert counts[keep].min() >= np.delete(counts, keep).max()
    sub = restrict_items(parts.train, keep)
    assert sub.n_items == 50 and len(sub) == counts[keep].sum()
    assert list(sub.items.ids) == list(parts.train.items.ids[keep])
    valid = restrict_eval(parts.valid, keep, n)
    kept_targets = np.isin(parts.valid.targets.item, keep).sum()
    assert len(valid.targets.item) == kept_targets and valid.targets.item.max() < 50


def test_ease_grid_shares_one_gram_matrix_and_matches_separate_fits(small_log):
    import numpy as np

    from training.baselines.ease import EASE

    train = split(small_log.interactions, "leave-last-out").train
    models = [EASE(l2=l2) for l2 in (10.0, 300.0)]
    for model in EASE.fit_grid(models, train, None):
        alone = EASE(l2=model.l2).fit(train)
        np.testing.assert_allclose(model._weights, alone._weights, rtol=1e-5, atol=1e-7)
        assert model._weights.flags.c_contiguous


def test_itemknn_grid_prunes_one_similarity_per_shrink_to_each_neighbour_count(small_log):
    import numpy as np

    from training.baselines.itemknn import ItemKNN

    train = split(small_log.interactions, "leave-last-out").train
    models = [ItemKNN(neighbours=k, shrink=s) for k in (5, 40) for s in (0.0, 10.0)]
    for model in ItemKNN.fit_grid(models, train, None):
        alone = ItemKNN(model.neighbours, model.shrink).fit(train)
        assert (model._sim != alone._sim).nnz == 0  # ties go to the lower item both ways
        assert np.diff(model._sim.indptr).max() <= model.neighbours
