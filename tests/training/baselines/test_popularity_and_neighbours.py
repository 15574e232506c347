import numpy as np

from bundle.history import Sequences
from training.baselines import ItemKNN, LastItem, Popularity, RecentPopularity
from training.data.interactions import Interactions
from training.data.splits import split
from training.evaluate import EvalConfig, evaluate

DAY = 86_400.0


def test_popularity_counts_distinct_users():
    data = Interactions.build(["a", "a", "a", "b"], ["x", "x", "x", "y"], [1, 2, 3, 4])
    scores = Popularity().fit(data).score(Sequences.from_lists([[]]), np.zeros(1))
    assert scores[0].tolist() == [1.0, 1.0]


def test_recent_popularity_counts_only_the_window_before_now():
    # item x: 3 events in days 0-1; item y: 2 events on day 9
    users = ["a", "b", "c", "d", "e"]
    items = ["x", "x", "x", "y", "y"]
    times = [0.1 * DAY, 0.5 * DAY, 1.2 * DAY, 9.1 * DAY, 9.3 * DAY]
    data = Interactions.build(users, items, times)
    model = RecentPopularity(window_days=3, resolution=3).fit(data)
    t0 = 0.1 * DAY
    now = np.array([t0 + 2 * DAY, t0 + 10 * DAY])
    scores = model.score(Sequences.from_lists([[], []]), now)
    x, y = data.items.index_of(["x", "y"])
    assert scores[0, x] > scores[0, y]  # early on, x is the trend
    assert scores[1, y] > scores[1, x]  # later, y is
    assert np.floor(scores[1, y]) == 2 and np.floor(scores[1, x]) == 0


def test_last_item_scores_neighbours_of_the_most_recent_item():
    data = Interactions.build(
        ["a", "a", "b", "b", "c", "c"], ["x", "y", "x", "y", "z", "w"], [1, 2, 1, 2, 1, 2]
    )
    model = LastItem().fit(data)
    w, x, _, z = data.items.index_of(["w", "x", "y", "z"])
    scores = model.score(Sequences.from_lists([[x, z]]), np.zeros(1))[0]
    assert scores.argmax() == w  # last item is z, whose only neighbour is w


def test_item_neighbourhood_models_beat_popularity_on_planted_tastes(small_log):
    data = small_log.interactions
    parts = split(data, "leave-last-out")
    config = EvalConfig(ks=(10,))
    pop = evaluate(Popularity().fit(parts.train), parts.test, data.n_items, config)
    for model in (ItemKNN(), LastItem()):
        result = evaluate(model.fit(parts.train), parts.test, data.n_items, config)
        assert result["ndcg@10"] > 2 * pop["ndcg@10"], model.name
