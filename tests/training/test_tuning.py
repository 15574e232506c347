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
