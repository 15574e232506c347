"""Deterministic synthetic event logs with planted structure (the demo data).

What is planted, so that tests can check a model finds it:

- **Stable tastes**: each user draws a taste over item categories from a sparse
  Dirichlet; every session picks one category from that taste (or, with
  ``explore`` probability, any category) and stays in it.
- **Sessions**: bursts of events ``session_gap_mean_s`` apart inside a session,
  sessions separated by at least ``min_idle_s`` of idle time.
- **Event types**: every step is a ``view``; a view becomes a ``click`` with
  ``p_click`` and a click a ``purchase`` with ``p_purchase`` (value = price).
- **Trends**: ``n_trending`` items get a Gaussian popularity bump around a peak
  day, then fade back.
- **Cold-start items**: ``cold_fraction`` of the items are released late (last
  quarter of the horizon), carry their category as metadata, and get a launch
  bump right after release; they have no event before their release time.

Item popularity inside a category follows Zipf's law. Everything is drawn from
one ``numpy`` generator seeded by ``seed``, vectorised per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from training.data.interactions import Interactions

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z: day 0 of every synthetic log
DAY = 86_400.0
EVENT_TYPES = ("view", "click", "purchase")


@dataclass(frozen=True)
class SyntheticConfig:
    """Size and shape of the generated log; defaults make a ~100K-event demo."""

    seed: int = 0
    n_users: int = 2_000
    n_items: int = 1_000
    n_categories: int = 20
    days: int = 60
    sessions_per_user: float = 6.0
    events_per_session: float = 7.0
    taste_concentration: float = 0.15
    explore: float = 0.05
    zipf_exponent: float = 1.0
    p_click: float = 0.3
    p_purchase: float = 0.15
    session_gap_mean_s: float = 45.0
    min_idle_s: float = 3_600.0
    n_trending: int = 20
    trend_width_days: float = 2.0
    trend_boost: float = 40.0
    cold_fraction: float = 0.05

    def __post_init__(self) -> None:
        for name in ("n_users", "n_items", "n_categories", "days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.n_items < self.n_categories:
            raise ValueError("n_items must be >= n_categories")


@dataclass(frozen=True)
class SyntheticTruth:
    """The planted structure, for tests that check a model recovers it."""

    taste: np.ndarray  # (n_users, n_categories) session-category probabilities
    item_category: np.ndarray  # (n_items,) category index
    release_day: np.ndarray  # (n_items,) 0 for catalogue items, later for cold items
    trending_items: np.ndarray  # (n_trending,) item indices
    trend_peak_day: np.ndarray  # (n_trending,) peak day of each trending item
    cold_items: np.ndarray  # item indices released late


@dataclass(frozen=True)
class SyntheticData:
    interactions: Interactions
    truth: SyntheticTruth  # indexed by the generator's item/user numbers


def item_id(k: int | np.ndarray) -> np.ndarray:
    return np.char.add("item-", np.char.zfill(np.asarray(k).astype(str), 5))


def user_id(k: int | np.ndarray) -> np.ndarray:
    return np.char.add("user-", np.char.zfill(np.asarray(k).astype(str), 5))


def generate(config: SyntheticConfig = SyntheticConfig(), progress: bool = False) -> SyntheticData:
    """Draw one event log; the same config always gives the same log."""
    rng = np.random.default_rng(config.seed)
    steps = tqdm(total=4, desc="synthetic", disable=not progress)
    truth, base_weight, price = _catalogue(config, rng)
    steps.update()
    session_user, session_cat, session_start = _sessions(config, rng, truth.taste)
    steps.update()
    ev_user, ev_time, ev_item = _session_events(
        config, rng, session_user, session_cat, session_start, truth, base_weight
    )
    steps.update()
    users, items, times, types, values = _derive_event_types(
        config, rng, ev_user, ev_time, ev_item, price
    )
    steps.update()
    steps.close()
    interactions = Interactions.build(
        user_id(users),
        item_id(items),
        EPOCH + times,
        event_types=np.asarray(EVENT_TYPES, dtype=object)[types],
        values=values,
        item_features=_item_table(config, truth, price),
        user_features=_user_table(config, truth),
        source=f"synthetic(seed={config.seed})",
    )
    return SyntheticData(interactions, truth)


def _catalogue(
    config: SyntheticConfig, rng: np.random.Generator
) -> tuple[SyntheticTruth, np.ndarray, np.ndarray]:
    n, c = config.n_items, config.n_categories
    category = np.arange(n) % c
    rng.shuffle(category)
    rank_in_cat = np.zeros(n, dtype=np.int64)
    for cat in range(c):  # offline set-up over categories, not per event
        members = np.flatnonzero(category == cat)
        rank_in_cat[members] = rng.permutation(len(members))
    base_weight = 1.0 / (rank_in_cat + 1.0) ** config.zipf_exponent
    release = np.zeros(n)
    cold = rng.choice(n, size=round(config.cold_fraction * n), replace=False)
    release[cold] = rng.uniform(0.75 * config.days, 0.95 * config.days, size=len(cold))
    warm = np.setdiff1d(np.arange(n), cold)
    trending = rng.choice(warm, size=min(config.n_trending, len(warm)), replace=False)
    peaks = rng.uniform(0.2 * config.days, 0.9 * config.days, size=len(trending))
    taste = rng.dirichlet(np.full(c, config.taste_concentration), size=config.n_users)
    price = np.round(rng.lognormal(3.0, 0.8, size=n), 2)
    truth = SyntheticTruth(taste, category, release, trending, peaks, cold)
    return truth, base_weight, price


def _sessions(
    config: SyntheticConfig, rng: np.random.Generator, taste: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Session owner, category and start time (seconds from EPOCH), sorted per user."""
    activity = rng.lognormal(0.0, 0.7, size=config.n_users)
    counts = 1 + rng.poisson(config.sessions_per_user * activity / activity.mean())
    owner = np.repeat(np.arange(config.n_users), counts)
    cum = taste.cumsum(axis=1)[owner]
    category = (cum < rng.random(len(owner))[:, None]).sum(axis=1)
    category = np.minimum(category, config.n_categories - 1)
    explore = rng.random(len(owner)) < config.explore
    category[explore] = rng.integers(0, config.n_categories, size=int(explore.sum()))
    start = rng.uniform(0, config.days * DAY, size=len(owner))
    order = np.lexsort((start, owner))
    return owner[order], category[order], start[order]


def _session_events(
    config: SyntheticConfig,
    rng: np.random.Generator,
    owner: np.ndarray,
    category: np.ndarray,
    start: np.ndarray,
    truth: SyntheticTruth,
    base_weight: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views: user, time and item of every session step."""
    length = 1 + rng.poisson(config.events_per_session - 1, size=len(owner))
    gaps = rng.exponential(config.session_gap_mean_s, size=int(length.sum()))
    session = np.repeat(np.arange(len(owner)), length)
    first = np.cumsum(length) - length
    gaps[first] = 0.0
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[first], length)
    # Push sessions apart so each starts >= min_idle_s after the previous one ends.
    duration = offset[np.cumsum(length) - 1]
    start = _separate(owner, start, duration, config.min_idle_s)
    time = np.repeat(start, length) + offset
    day = np.clip((time // DAY).astype(np.int64), 0, None)
    n_days = int(day.max()) + 1
    table = _category_cdf(config, truth, base_weight, n_days)
    cat = category[session]
    draw = rng.random(len(time))
    # inverse CDF per (day, category): the events of one pair share its CDF row, so
    # each group is one binary search (no events x items-per-category array)
    key = day * config.n_categories + cat
    order = np.argsort(key, kind="stable")
    local = np.empty(len(time), dtype=np.int64)
    for group in np.split(order, np.flatnonzero(np.diff(key[order])) + 1):
        if len(group):
            row = table.cdf[day[group[0]], cat[group[0]]]
            local[group] = np.searchsorted(row, draw[group], side="left")
    local = np.minimum(local, table.sizes[cat] - 1)
    item = table.members[cat, local]
    return owner[session], time, item


def _separate(
    owner: np.ndarray, start: np.ndarray, duration: np.ndarray, idle: float
) -> np.ndarray:
    """Shift session starts so that sessions of one user never overlap."""
    new_start = start.copy()
    same_user = np.r_[False, owner[1:] == owner[:-1]]
    # Sequential dependency within a user; sessions per user are few, so this
    # offline loop is over the (small) number of sessions, not events.
    for k in np.flatnonzero(same_user):
        earliest = new_start[k - 1] + duration[k - 1] + idle
        if new_start[k] < earliest:
            new_start[k] = earliest
    return new_start


@dataclass(frozen=True)
class _CategoryTable:
    members: np.ndarray  # (C, M) item index of each slot, padded with 0
    sizes: np.ndarray  # (C,) items per category
    cdf: np.ndarray  # (days, C, M) cumulative item probability per category and day


def _category_cdf(
    config: SyntheticConfig, truth: SyntheticTruth, base_weight: np.ndarray, n_days: int
) -> _CategoryTable:
    c = config.n_categories
    sizes = np.bincount(truth.item_category, minlength=c)
    members = np.zeros((c, sizes.max()), dtype=np.int64)
    mask = np.zeros_like(members, dtype=bool)
    for cat in range(c):
        idx = np.flatnonzero(truth.item_category == cat)
        members[cat, : len(idx)] = idx
        mask[cat, : len(idx)] = True
    days = np.arange(n_days) + 0.5
    weight = np.tile(base_weight, (n_days, 1))  # (days, items)
    # An item is drawn on day d only if it was released by the start of that day.
    weight[np.arange(n_days)[:, None] < truth.release_day[None, :]] = 0.0
    bump = np.exp(
        -0.5 * ((days[:, None] - truth.trend_peak_day[None, :]) / config.trend_width_days) ** 2
    )
    weight[:, truth.trending_items] *= 1.0 + config.trend_boost * bump
    launch = days[:, None] - truth.release_day[None, truth.cold_items]
    launch_bump = np.where(launch >= 0, np.exp(-launch / config.trend_width_days), 0.0)
    weight[:, truth.cold_items] *= 1.0 + config.trend_boost * launch_bump
    slot = weight[:, members] * mask[None]  # (days, C, M)
    total = slot.sum(axis=2, keepdims=True)
    cdf = np.cumsum(slot, axis=2) / np.where(total > 0, total, 1.0)
    cdf[..., -1] = np.where(total[..., 0] > 0, cdf[..., -1], 1.0)
    return _CategoryTable(members, sizes, cdf)


def _derive_event_types(
    config: SyntheticConfig,
    rng: np.random.Generator,
    user: np.ndarray,
    time: np.ndarray,
    item: np.ndarray,
    price: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Add clicks after some views and purchases after some clicks."""
    clicked = rng.random(len(item)) < config.p_click
    bought = clicked & (rng.random(len(item)) < config.p_purchase)
    click_t = time[clicked] + rng.uniform(1, 10, size=int(clicked.sum()))
    buy_t = time[bought] + rng.uniform(20, 120, size=int(bought.sum()))
    users = np.concatenate([user, user[clicked], user[bought]])
    items = np.concatenate([item, item[clicked], item[bought]])
    times = np.concatenate([time, click_t, buy_t])
    types = np.concatenate(
        [np.zeros(len(item), np.int64), np.ones(len(click_t), np.int64), np.full(len(buy_t), 2)]
    )
    values = np.concatenate([np.ones(len(item) + len(click_t)), price[item[bought]]])
    return users, items, times, types, values


def _item_table(config: SyntheticConfig, truth: SyntheticTruth, price: np.ndarray) -> pd.DataFrame:
    category = np.char.add("cat-", np.char.zfill(truth.item_category.astype(str), 2))
    return pd.DataFrame(
        {
            "category": category,
            "categories": category,
            "price": price,
            "release_timestamp": EPOCH + truth.release_day * DAY,
        },
        index=pd.Index(item_id(np.arange(config.n_items)), name="item_id"),
    )


def _user_table(config: SyntheticConfig, truth: SyntheticTruth) -> pd.DataFrame:
    favourite = np.char.add("cat-", np.char.zfill(truth.taste.argmax(axis=1).astype(str), 2))
    return pd.DataFrame(
        {"favourite_category": favourite},
        index=pd.Index(user_id(np.arange(config.n_users)), name="user_id"),
    )


def write_recbole(data: Interactions, folder: str | Path) -> Path:
    """Write RecBole atomic files ``<folder>/<name>.{inter,item,user}``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = folder.name
    inter = pd.DataFrame(
        {
            "user_id:token": data.users.ids[data.user],
            "item_id:token": data.items.ids[data.item],
            "rating:float": data.value,
            "timestamp:float": np.round(data.timestamp, 3),
            "event_type:token": np.asarray(data.event_types, dtype=object)[data.event_type],
        }
    )
    inter.to_csv(folder / f"{name}.inter", sep="\t", index=False)
    for table, ids, suffix, key in (
        (data.item_features, data.items, "item", "item_id"),
        (data.user_features, data.users, "user", "user_id"),
    ):
        if table is None:
            continue
        out = table.copy()
        out.insert(0, key, ids.ids)
        out.columns = [f"{c}:{'float' if out[c].dtype.kind == 'f' else 'token'}" for c in out]
        out.to_csv(folder / f"{name}.{suffix}", sep="\t", index=False)
    return folder
