"""Argument parsers of the offline commands (``generate``, ``evaluate``).

Kept free of heavy imports: each ``run_*`` imports what it needs, so
``recserve --help`` stays fast and never imports torch.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.jobs.source import DataSource, SplitSpec

DEFAULT_MODELS = "popularity,recent-popularity,last-item,itemknn,ease"


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("K values must be positive integers")
    return values


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--data/--format/--columns/... shared by every command that reads a log."""
    group = parser.add_argument_group("data")
    group.add_argument("--data", required=True, help="file or folder of the interaction log")
    group.add_argument(
        "--format",
        required=True,
        choices=["movielens", "recbole", "csv", "parquet"],
        help="movielens (u.data / ratings.dat), recbole (atomic files), csv or parquet",
    )
    group.add_argument(
        "--columns",
        default=None,
        help="csv/parquet column mapping, e.g. "
        "user=uid,item=sku,timestamp=ts,event_type=kind,value=v",
    )
    group.add_argument("--sep", default=",", help="csv field separator (default ',')")
    group.add_argument(
        "--timestamp-unit",
        choices=("s", "ms"),
        default="s",
        help="unit of numeric timestamps (ISO-8601 text is always read)",
    )
    group.add_argument(
        "--items",
        default=None,
        help="item metadata (csv or parquet) for any --format: a 'categories' column (list "
        "or text split at | , ;) and any other columns become item features",
    )
    group.add_argument("--users", default=None, help="user metadata (csv or parquet)")
    group.add_argument("--item-key", default="item_id", help="id column of --items")
    group.add_argument("--user-key", default="user_id", help="id column of --users")
    group.add_argument(
        "--categories", default=None, help="category column of --items (default: a known name)"
    )
    group.add_argument(
        "--min-value",
        type=float,
        default=None,
        help="keep events with value >= this (e.g. rating 4)",
    )


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("evaluation protocol")
    group.add_argument(
        "--protocol",
        default="leave-last-out",
        choices=["leave-last-out", "temporal", "user-holdout"],
        help="leave-last-out (last event per user), temporal (global time cut), "
        "user-holdout (held-out users, 80/20 fold-in)",
    )
    group.add_argument("--seed", type=int, default=0, help="seed for splits and sampling")
    group.add_argument(
        "--split-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="protocol parameter, e.g. test_fraction=0.2 (repeatable)",
    )


def split_params(specs: list[str]) -> dict[str, Any]:
    import ast

    out: dict[str, Any] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        if not sep:
            raise ValueError(f"--split-param {spec!r}: expected NAME=VALUE")
        out[name.strip()] = ast.literal_eval(raw)
    return out


def add_evaluate_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="train baselines/models on a split and report ranking metrics",
        description="Split an interaction log, fit each model on the training part, rank "
        "all items for every test user (seen items excluded) and print HR, Recall, "
        "Precision, NDCG, MRR, PCC and coverage at each K. Writes a JSON report.",
    )
    add_data_arguments(parser)
    add_split_arguments(parser)
    parser.add_argument(
        "--models",
        default=DEFAULT_MODELS,
        help=f"comma list of NAME or LABEL=NAME (a variant: ew=predictor --param "
        f"ew.formulation=ew) or RETRIEVAL+RERANKER (led+attention: the re-ranker re-scores "
        f"the top 100, --param led+attention.rerank_n=N); default {DEFAULT_MODELS}",
    )
    parser.add_argument("--k", type=_ints, default=(10, 20, 50), help="cut-offs, e.g. 10,20,50")
    parser.add_argument("--json", default=None, help="write the JSON report here")
    parser.add_argument(
        "--negatives",
        type=int,
        default=0,
        help="rank targets among N sampled negatives (0: all items)",
    )
    parser.add_argument(
        "--gamma",
        type=float,
        default=1.0,
        help="sampled negatives ~ popularity**gamma (0: uniform)",
    )
    parser.add_argument("--keep-seen", action="store_true", help="do not exclude history items")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="MODEL.NAME=VALUE",
        help="model hyper-parameter by model name or label, e.g. ease.l2=200 or "
        "led.max_epochs=20 (repeatable)",
    )
    parser.add_argument(
        "--no-tune",
        action="store_true",
        help="use default/--param hyper-parameters instead of a grid search on the validation set",
    )
    parser.add_argument(
        "--tune-metric",
        default=None,
        help="validation metric for tuning (default ndcg@<largest K>)",
    )
    parser.add_argument(
        "--valid-users",
        type=int,
        default=None,
        help="compare tuning grid points and early-stop on at most N validation users, "
        "sampled with --seed (default 5000, training.tuning.MAX_USERS; 0: all)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run_evaluate)


def source_of(args: argparse.Namespace) -> DataSource:
    from training.data.readers import ColumnMap, FeatureFiles
    from training.jobs.source import DataSource

    features = FeatureFiles(args.items, args.users, args.item_key, args.user_key, args.categories)
    return DataSource(
        args.data,
        args.format,
        ColumnMap.parse(args.columns),
        args.sep,
        args.min_value,
        args.timestamp_unit,
        features,
    )


def split_of(args: argparse.Namespace) -> SplitSpec:
    from training.jobs.source import SplitSpec

    return SplitSpec(args.protocol, args.seed, split_params(args.split_param))


def run_evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import EvalConfig
    from training.jobs.evaluate import EvaluateJob
    from training.jobs.source import parse_model_params

    job = EvaluateJob(
        source=source_of(args),
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        split=split_of(args),
        eval=EvalConfig(
            ks=args.k,
            exclude_seen=not args.keep_seen,
            negatives=args.negatives,
            gamma=args.gamma,
            seed=args.seed,
        ),
        model_params=parse_model_params(args.param),
        json_path=args.json,
        progress=not args.no_progress,
        tune=not args.no_tune,
        tune_metric=args.tune_metric,
        **({} if args.valid_users is None else {"valid_users": args.valid_users}),
    )
    job.run()
    return 0


def add_train_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "train",
        help="train one servable model (led, predictor, attrec) and write a checkpoint",
        description="Split the log, train MODEL on the training part with early stopping on "
        "the validation users, report test metrics, and write a checkpoint folder "
        "(model, id maps, item metadata, validation users, metrics.json) for `recserve "
        "export`. Only models that can be served are accepted. --param max_epochs=N bounds "
        "the training of every model; nested names work too (train.lr=0.01).",
    )
    parser.add_argument("model", help="a servable model: led, predictor or attrec")
    add_data_arguments(parser)
    add_split_arguments(parser)
    parser.set_defaults(protocol="user-holdout")
    parser.add_argument("--out", required=True, help="checkpoint folder, e.g. runs/led")
    parser.add_argument("--k", type=_ints, default=(20, 50, 100), help="cut-offs for metrics.json")
    parser.add_argument("--config", default=None, help="JSON file of model hyper-parameters")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one hyper-parameter, e.g. dim=128, loss=css, max_epochs=5 "
        "(repeatable; beats --config)",
    )
    parser.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default=None,
        help="where torch trains (default auto: CUDA when available, else CPU)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from training.evaluate import EvalConfig
    from training.jobs.source import parse_value
    from training.jobs.train import TrainJob

    params: dict[str, Any] = {}
    if args.config:
        params.update(json.loads(Path(args.config).read_text()))
    for spec in args.param:
        name, sep, raw = spec.partition("=")
        if not sep or not name:
            raise ValueError(f"--param {spec!r}: expected NAME=VALUE, e.g. dim=128")
        params[name.removeprefix(f"{args.model}.")] = parse_value(raw)
    TrainJob(
        model=args.model,
        source=source_of(args),
        out=args.out,
        split=split_of(args),
        params=params,
        device=args.device,
        eval=EvalConfig(ks=args.k, seed=args.seed),
        progress=not args.no_progress,
    ).run()
    return 0


def add_generate_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "generate",
        help="write the deterministic synthetic demo event log (RecBole atomic files)",
        description="Generate users with stable tastes over item categories, sessions, "
        "view/click/purchase events, trending items and late cold-start items.",
    )
    parser.add_argument("--out", required=True, help="output folder, e.g. data/demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--days", type=int, default=60)
    parser.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from training.data.synthetic import SyntheticConfig, generate, write_recbole

    config = SyntheticConfig(
        seed=args.seed,
        n_users=args.users,
        n_items=args.items,
        n_categories=args.categories,
        days=args.days,
    )
    data = generate(config, progress=True).interactions
    folder = write_recbole(data, args.out)
    stats = data.stats()
    print(
        f"wrote {folder}: {stats['events']} events, {stats['users']} users, "
        f"{stats['items']} items, types {stats['event_types']}"
    )
    return 0
