import numpy as np

from training.data.synthetic import DAY, EPOCH, SyntheticConfig, generate, item_id


def test_same_seed_same_log_other_seed_other_log():
    config = SyntheticConfig(seed=3, n_users=50, n_items=60, n_categories=5, days=10)
    a, b = generate(config).interactions, generate(config).interactions
    c = generate(SyntheticConfig(seed=4, n_users=50, n_items=60, n_categories=5, days=10))
    for field in ("user", "item", "timestamp", "event_type", "value"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert len(c.interactions) != len(a) or not np.array_equal(c.interactions.item, a.item)


def _event_category(log):
    data = log.interactions
    numbers = np.array([int(s[5:]) for s in data.items.ids])[data.item]
    return log.truth.item_category[numbers]


def test_users_have_stable_tastes_over_categories(small_log):
    data = small_log.interactions
    category = _event_category(small_log)
    n_cat = small_log.truth.item_category.max() + 1
    per_user = np.zeros((data.n_users, n_cat))
    np.add.at(per_user, (data.user, category), 1.0)
    share_top2 = np.sort(per_user, axis=1)[:, -2:].sum(1) / per_user.sum(1)
    # with 10 categories a taste-free user would put ~20% in their top two
    assert np.median(share_top2) > 0.7
    # the planted favourite is the most visited category for most users
    favourite = small_log.truth.taste.argmax(1)
    assert (per_user.argmax(1) == favourite).mean() > 0.6  # chance: 0.1


def test_sessions_are_bursts_separated_by_idle_gaps(small_log):
    data = small_log.interactions
    config = SyntheticConfig()
    views = data.event_type == data.event_type_code("view")
    users, times = data.user[views], data.timestamp[views]
    same_user = users[1:] == users[:-1]
    gaps = np.diff(times)[same_user]
    inside = gaps < config.min_idle_s
    assert inside.mean() > 0.7  # most consecutive views are within a session
    assert np.median(gaps[inside]) < 5 * config.session_gap_mean_s
    assert np.median(gaps[~inside]) > 6 * 3600  # sessions are hours to days apart


def test_clicks_follow_views_and_purchases_follow_clicks(small_log):
    data = small_log.interactions
    counts = data.stats()["event_types"]
    assert counts["view"] > counts["click"] > counts["purchase"] > 0
    click = data.event_type_code("click")
    view = data.event_type_code("view")
    # every clicked (user, item) pair was viewed first
    seen_view = {
        (u, i)
        for u, i in zip(
            data.user[data.event_type == view], data.item[data.event_type == view], strict=True
        )
    }
    clicked = set(
        zip(data.user[data.event_type == click], data.item[data.event_type == click], strict=True)
    )
    assert clicked <= seen_view
    purchases = data.value[data.event_type == data.event_type_code("purchase")]
    assert purchases.min() > 0 and np.unique(purchases).size > 10  # prices, not ones


def test_trending_items_peak_near_their_planted_day(small_log):
    data = small_log.interactions
    truth = small_log.truth
    day = ((data.timestamp - EPOCH) // DAY).astype(int)
    n_days = day.max() + 1
    daily_total = np.bincount(day, minlength=n_days)
    hits = 0
    for item, peak in zip(truth.trending_items, truth.trend_peak_day, strict=True):
        dense = data.items.index_of(item_id(item))[0]
        share = np.bincount(day[data.item == dense], minlength=n_days) / np.maximum(daily_total, 1)
        hits += abs(int(share.argmax()) - peak) <= 3
    assert hits >= 0.8 * len(truth.trending_items)


def test_cold_items_have_no_event_before_release_and_carry_a_category(small_log):
    data = small_log.interactions
    truth = small_log.truth
    assert len(truth.cold_items) > 0
    for item in truth.cold_items:
        dense = data.items.index_of(item_id(item))[0]
        if dense < 0:
            continue  # released too late to be seen at all
        first = data.timestamp[data.item == dense].min()
        assert first >= EPOCH + truth.release_day[item] * DAY
        assert data.item_features.loc[dense, "category"].startswith("cat-")
    release = data.item_features["release_timestamp"].to_numpy()
    assert (release > EPOCH).sum() == np.isin(data.items.ids, item_id(truth.cold_items)).sum()
