import numpy as np
import pytest

from bundle.history import Sequences
from training.models.base import Recommender
from training.registry import available, create, register

BASELINES = ["popularity", "recent-popularity", "last-item", "itemknn", "ease"]


def test_every_baseline_is_registered():
    assert set(BASELINES) <= set(available())


@pytest.mark.parametrize("name", BASELINES)
def test_every_baseline_fits_and_scores_tiny_data(name, small_log):
    data = small_log.interactions
    model = create(name).fit(data)
    history = data.sequences().take(np.arange(5))
    history = Sequences(
        history.indptr, history.item, history.timestamp, history.event_type, history.value
    )
    scores = model.score(history, np.full(5, data.timestamp.max()))
    assert scores.shape == (5, data.n_items)
    assert np.isfinite(scores).all()
    assert model.name == name


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown model 'nope'.*popularity"):
        create("nope")


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="twice"):

        @register("popularity")
        class Other(Recommender):
            def fit(self, train, validation=None, progress=False):
                return self

            def score(self, history, now, users=None):
                return np.zeros((len(history), 1))
