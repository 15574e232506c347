"""LED: Lightweight Encoder-Decoder (Koch et al., Criteo; sec. 4.2-4.4, app. 9).

One embedding v_i and one bias b_i per item. A user is the mean of the
embeddings of the items in the input part of their timeline (sec. 4.2),

    u = (1/T) sum_t v_{u_t},        s(u, i) = <u, v_i> + b_i,

which is an inner product of [u, 1] and [v_i, b_i], so serving is MIPS.

Item embeddings start from pre-trained vectors (PMI + randomized SVD, or
item2vec) or at random, and are fine-tuned either ``full`` (trained) or by
``project``: v_i = P . v_i^pre with P (d x d) the only trained matrix. With
the transposition trick (sec. 4.4) a batch is scored as

    s(u, i) = <P^T P . mean_t v_{u_t}^pre, v_i^pre> + b_i,

one d x d product per user instead of one per item. Losses: BPR, NS,
CSS-approximated multinomial, or the full softmax (``training.losses``);
N negatives per batch, shared by every positive of every user in it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from training import losses
from training.data.batches import FoldInBatch, FoldInBatcher, pad
from training.data.interactions import Interactions, Sequences
from training.data.sampling import AliasSampler, popularity_distribution
from training.data.splits import EvalSet
from training.evaluate import EvalConfig, evaluate
from training.models.base import RetrievalModel, history_input
from training.pretrain.item2vec import Item2VecConfig, item2vec_embeddings
from training.pretrain.pmi_svd import PMISVDConfig, pmi_svd_embeddings
from training.registry import register
from training.trainer import TrainConfig, TrainLog, fit_with_early_stopping

INITS = ("rsvd", "item2vec", "random")
TUNINGS = ("project", "full")


@dataclass(frozen=True)
class LEDConfig:
    """Hyper-parameters; defaults follow the paper's ML20M setup (app. 9.2)
    scaled to small catalogues, and were checked on validation users."""

    dim: int = 600
    init: str = "rsvd"  # rsvd | item2vec | random
    tuning: str = "project"  # project | full
    loss: str = "bpr"  # bpr | ns | css | softmax
    negatives: int = 1000
    negative_gamma: float = 0.0  # negatives ~ popularity**gamma; 0 = uniform, as the paper
    dropout: float = 0.5
    target_fraction: float = 0.2  # 0: input = target = whole timeline (auto-encoder)
    target_event_types: tuple[str, ...] = ()  # () = all; ("click",) as in sec. 4.3
    pretrain_event_types: tuple[str, ...] = ()  # () = all; ("view",) as in Algorithm 1
    pmi_window: int | None = None
    pmi_variant: str = "sppmi"
    pmi_shift: float = 1.0
    norm_power: float = 1.0  # u = sum / T**power: 1 is the paper's 1/T, 0.5 its 1/sqrt(T)
    singular_power: float = 0.5
    projection_init: str = "identity"  # identity | random (Algorithm 1 step 3)
    max_history: int = 1000
    lr: float = 1e-2
    batch_size: int = 128
    max_epochs: int = 300
    eval_every: int = 2
    patience: int = 10
    eval_metric: str = "ndcg@100"
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (self.init in INITS, f"init must be one of {INITS}"),
            (self.tuning in TUNINGS, f"tuning must be one of {TUNINGS}"),
            (self.projection_init in ("identity", "random"), "projection_init: identity|random"),
            (self.loss in losses.LOSSES, f"loss must be one of {losses.LOSSES}"),
            (self.dim >= 1 and self.negatives >= 1, "dim and negatives must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"LED: {message}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LEDConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"LED: unknown parameter(s) {sorted(unknown)}; known: {sorted(known)}")
        tuples = {"target_event_types", "pretrain_event_types"}
        cleaned: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in values.items()}
        return cls(**cleaned)


class LEDNetwork(torch.nn.Module):
    """Item table (trained, or frozen and projected by P) plus item biases."""

    def __init__(
        self,
        pretrained: np.ndarray,
        tuning: str,
        projection_init: str = "identity",
        norm_power: float = 1.0,
    ) -> None:
        super().__init__()
        self.norm_power = norm_power
        n_items, dim = pretrained.shape
        self.tuning = tuning
        table = torch.from_numpy(np.ascontiguousarray(pretrained, dtype=np.float32))
        if tuning == "project":
            self.register_buffer("base", table)
            start = torch.eye(dim)
            if projection_init == "random":
                start = torch.randn(dim, dim) / dim**0.5
            self.projection = torch.nn.Parameter(start)
        else:
            self.base = torch.nn.Parameter(table.clone())
        self.bias = torch.nn.Parameter(torch.zeros(n_items))

    def queries(self, items: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, d) user queries in the space of ``self.base`` rows.

        project: P^T P . mean(v^pre) (transposition trick); full: mean(v).
        """
        summed = (self.base[items] * mask[..., None]).sum(1)
        mean = summed / mask.sum(1, keepdim=True).clamp_min(1e-9) ** self.norm_power
        if self.tuning == "project":
            return mean @ (self.projection.T @ self.projection)
        return mean

    def item_table(self) -> torch.Tensor:
        """(I, d) final item embeddings v_i."""
        if self.tuning == "project":
            return self.base @ self.projection.T
        return self.base


class LEDEncoder(torch.nn.Module):
    """ONNX-exportable user encoder: (items, weights) -> [mean of v, 1]."""

    table: torch.Tensor

    def __init__(self, item_table: np.ndarray, norm_power: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("table", torch.from_numpy(np.ascontiguousarray(item_table)))
        self.norm_power = norm_power

    def forward(self, items: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        summed = (self.table[items] * weights.unsqueeze(-1)).sum(1)
        user = summed / weights.sum(1, keepdim=True).clamp_min(1e-9) ** self.norm_power
        return torch.cat([user, torch.ones_like(user[:, :1])], dim=1)


@register("led")
class LED(RetrievalModel):
    """LED as a recommender: ``fit`` pre-trains, fine-tunes and early-stops."""

    def __init__(self, **params: Any) -> None:
        self.config = LEDConfig.from_dict(params)
        self.train_log: TrainLog | None = None

    def params(self) -> dict[str, Any]:
        return self.config_dict()

    def fit_info(self) -> dict[str, Any]:
        if self.train_log is None:
            return {}
        log = self.train_log
        return {
            "epochs": log.epochs,
            "best_epoch": log.best_epoch,
            "best_valid": log.best_metric,
            "metric": self.config.eval_metric,
            "seconds": round(log.seconds, 3),
            "history": log.history,
        }

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    # --- training ---------------------------------------------------------------------

    def pretrained_vectors(self, train: Interactions) -> np.ndarray:
        c = self.config
        if c.init == "rsvd":
            pmi_config = PMISVDConfig(
                dim=c.dim,
                window=c.pmi_window,
                variant=c.pmi_variant,
                shift=c.pmi_shift,
                singular_power=c.singular_power,
                event_types=c.pretrain_event_types,
                seed=c.seed,
            )
            return pmi_svd_embeddings(train, pmi_config)
        if c.init == "item2vec":
            i2v = Item2VecConfig(dim=c.dim, event_types=c.pretrain_event_types, seed=c.seed)
            return item2vec_embeddings(train, i2v)
        rng = np.random.default_rng(c.seed)
        return (rng.standard_normal((train.n_items, c.dim)) / np.sqrt(c.dim)).astype(np.float32)

    def fit(self, train: Interactions, valid: EvalSet | None = None, progress: bool = False) -> LED:
        c = self.config
        self.n_items = train.n_items
        torch.manual_seed(c.seed)
        net = LEDNetwork(
            self.pretrained_vectors(train),
            c.tuning,
            c.projection_init,
            c.norm_power,
        )
        batcher = FoldInBatcher(
            train, c.target_fraction, c.dropout, c.max_history, c.target_event_types
        )
        item_counts = np.bincount(train.item, minlength=train.n_items)
        sampler = AliasSampler(popularity_distribution(item_counts, c.negative_gamma))

        def step(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            return self._loss(net, batcher.batch(rows, rng), sampler, rng)

        def validate() -> float:
            assert valid is not None
            self._freeze(net)
            config = EvalConfig(ks=(int(c.eval_metric.split("@")[1]),))
            return evaluate(self, valid, train.n_items, config)[c.eval_metric]

        train_config = TrainConfig(
            lr=c.lr,
            batch_size=c.batch_size,
            max_epochs=c.max_epochs,
            eval_every=c.eval_every,
            patience=c.patience,
            seed=c.seed,
        )
        use_valid = valid is not None and len(valid) > 0
        groups = [{"params": [net.bias]}]
        if c.tuning == "project":
            groups.append({"params": [net.projection]})
        else:
            groups.append({"params": [net.base]})
        self.train_log = fit_with_early_stopping(
            net,
            len(batcher),
            step,
            validate if use_valid else None,
            train_config,
            progress,
            "led",
            groups,
        )
        self._freeze(net)
        return self

    def _loss(
        self,
        net: LEDNetwork,
        batch: FoldInBatch,
        sampler: AliasSampler,
        rng: np.random.Generator,
    ) -> torch.Tensor:
        inputs = torch.from_numpy(batch.inputs)
        queries = net.queries(inputs, torch.from_numpy(batch.input_mask))  # (B, d)
        rows = torch.from_numpy(batch.target_rows)
        targets = torch.from_numpy(batch.target_items)
        if self.config.loss == "softmax":
            all_scores = queries @ net.base.T + net.bias
            return losses.full_softmax(all_scores, rows, targets)
        pos = (queries[rows] * net.base[targets]).sum(-1) + net.bias[targets]  # (P,)
        negatives = sampler.sample(rng, self.config.negatives)
        neg = queries @ net.base[negatives].T + net.bias[negatives]  # (B, N)
        keys = np.arange(len(batch.users))[:, None] * self.n_items + negatives[None, :]
        neg_mask = torch.from_numpy((~np.isin(keys, batch.positives)).astype(np.float32))
        if self.config.loss == "bpr":
            return losses.bpr(pos, rows, neg, neg_mask)
        if self.config.loss == "ns":
            return losses.negative_sampling(pos, rows, neg, neg_mask)
        return losses.complementary_sum_sampling(pos, rows, neg, neg_mask, self.n_items)

    def _freeze(self, net: LEDNetwork) -> None:
        with torch.no_grad():
            self._table = net.item_table().detach().numpy().astype(np.float32).copy()
            self._bias = net.bias.detach().numpy().astype(np.float32).copy()

    # --- serving side -------------------------------------------------------------------

    def encode_user(self, history: Sequences, now: np.ndarray) -> np.ndarray:
        # the server's policy (service.encoder.cut_history): each item's latest
        # event, then the latest ``max_history`` of those
        items, mask = pad(history.distinct(keep="last"), self.config.max_history)
        summed = (self._table[items] * mask[..., None]).sum(1)
        users = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9) ** self.config.norm_power
        return np.concatenate([users, np.ones((len(users), 1), np.float32)], axis=1)

    def item_vectors(self) -> np.ndarray:
        return np.concatenate([self._table, self._bias[:, None]], axis=1)

    def export_encoder(self) -> torch.nn.Module:
        return LEDEncoder(self._table, self.config.norm_power).eval()

    def encoder_spec(self) -> dict[str, Any]:
        return {
            "inputs": [
                history_input("items", "int64", "item_rows"),
                history_input("weights", "float32", "mask"),
            ],
            "output": {"name": "user", "dtype": "float32", "dim": self._table.shape[1] + 1},
            "history": {"max_length": self.config.max_history, "distinct_items": True},
        }

    def state(self) -> dict[str, np.ndarray]:
        return {"item_table": self._table, "item_bias": self._bias}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> LED:
        model = cls(**config)
        model._table = np.asarray(arrays["item_table"], dtype=np.float32)
        model._bias = np.asarray(arrays["item_bias"], dtype=np.float32)
        model.n_items = len(model._bias)
        return model
