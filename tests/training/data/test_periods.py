import numpy as np

from training.data.periods import periods


def test_each_cut_splits_a_user_into_the_past_and_the_next_period(small_log):
    data = small_log.interactions
    found = periods(data, target_fraction=0.1, windows=3, min_input=2)
    cuts = np.unique(found.now)
    assert len(cuts) == 3
    for e in range(0, len(found), 37):
        x, y = found.inputs.take([e]), found.outputs.take([e])
        assert len(x.item) >= 2 and len(y.item) >= 1
        assert (x.timestamp < found.now[e]).all() and (y.timestamp >= found.now[e]).all()
        user = data.sequences().take([found.users[e]])
        assert set(x.item.tolist()) <= set(user.item.tolist())
    latest = found.now == cuts.max()
    share = (data.timestamp >= cuts.max()).mean()
    assert abs(share - 0.1) < 0.01 and latest.sum() > 0
