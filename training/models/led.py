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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bundle.history import HistoryPolicy
from bundle.manifest import ColdStart, EncoderSpec, InputSpec, ItemQuery, OutputSpec, QueryBlock
from training import losses
from training.data.batches import FoldInBatch, FoldInBatcher
from training.data.interactions import Interactions
from training.data.sampling import AliasSampler, popularity_distribution
from training.models.base import StatefulModules
from training.models.torch_base import TorchRetrievalModel, to_numpy
from training.pretrain.item2vec import Item2VecConfig, item2vec_embeddings
from training.pretrain.pmi_svd import PMISVDConfig, pmi_svd_embeddings
from training.registry import register
from training.trainer import Plan, TrainConfig

INITS = ("rsvd", "item2vec", "random")
TUNINGS = ("project", "full")


@dataclass(frozen=True)
class LEDPretrain:
    """Item pre-training (Algorithm 1 steps 1-2): PMI + randomized SVD options."""

    pmi_window: int | None = None  # None: the whole timeline
    pmi_variant: str = "sppmi"
    pmi_shift: float = 1.0
    singular_power: float = 0.5
    pretrain_event_types: tuple[str, ...] = ()  # () = all; ("view",) as in Algorithm 1


@dataclass(frozen=True)
class LEDObjective:
    """Fine-tuning objective (sec. 4.3): loss, negatives, input/target split, dropout."""

    loss: str = "bpr"  # bpr | ns | css | softmax
    negatives: int = 1000
    negative_gamma: float = 0.0  # negatives ~ popularity**gamma; 0 = uniform, as the paper
    dropout: float = 0.5
    target_fraction: float = 0.2  # 0: input = target = whole timeline (auto-encoder)
    target_event_types: tuple[str, ...] = ()  # () = all; ("click",) as in sec. 4.3

    def __post_init__(self) -> None:
        if self.loss not in losses.LOSSES:
            raise ValueError(f"loss must be one of {losses.LOSSES}")
        if self.negatives < 1:
            raise ValueError("negatives must be >= 1")


@dataclass(frozen=True)
class LEDConfig:
    """Hyper-parameters; defaults follow the paper's ML20M setup (app. 9.2)
    scaled to small catalogues, and were checked on validation users."""

    dim: int = 600
    init: str = "rsvd"  # rsvd | item2vec | random
    tuning: str = "project"  # project | full
    projection_init: str = "identity"  # identity | random (Algorithm 1 step 3)
    norm_power: float = 1.0  # u = sum / T**power: 1 is the paper's 1/T, 0.5 its 1/sqrt(T)
    max_history: int = 1000
    pretrain: LEDPretrain = field(default_factory=LEDPretrain)
    objective: LEDObjective = field(default_factory=LEDObjective)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=1e-2, batch_size=128, max_epochs=300, eval_every=2, patience=10,
            eval_metric="ndcg@100",
        )
    )  # fmt: skip

    def __post_init__(self) -> None:
        checks = [
            (self.init in INITS, f"init must be one of {INITS}"),
            (self.tuning in TUNINGS, f"tuning must be one of {TUNINGS}"),
            (self.projection_init in ("identity", "random"), "projection_init: identity|random"),
            (self.dim >= 1, "dim must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


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

    def forward(
        self, items: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[sum_i a_i v_i, 1] and a (B, H): a_i = w_i / (sum w)^p, each event's share."""
        share = weights / weights.sum(1, keepdim=True).clamp_min(1e-9) ** self.norm_power
        user = (self.table[items] * share.unsqueeze(-1)).sum(1)
        return torch.cat([user, torch.ones_like(user[:, :1])], dim=1), share


class LEDStep(torch.nn.Module):
    """The ``step`` graph: LED's state is the running sum of the distinct history items'
    vectors and their count, ``[sum_i v_i, T]``; an event on an item not already in the
    history (``new`` 1.0) adds ``[v_item, 1]``."""

    table: torch.Tensor

    def __init__(self, item_table: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("table", torch.from_numpy(np.ascontiguousarray(item_table)))

    def forward(self, state: torch.Tensor, item: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        added = torch.cat([self.table[item], torch.ones_like(new)[:, None]], dim=1)
        return state + new[:, None] * added


class LEDReadout(torch.nn.Module):
    """The ``readout`` graph: ``[sum / T**p, 1]``, the one-pass encoder's user vector."""

    def __init__(self, norm_power: float = 1.0) -> None:
        super().__init__()
        self.norm_power = norm_power

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        summed, count = state[:, :-1], state[:, -1:]
        user = summed / count.clamp_min(1e-9) ** self.norm_power
        return torch.cat([user, torch.ones_like(count)], dim=1)


@register("led")
class LED(TorchRetrievalModel):
    """LED as a recommender: ``fit`` pre-trains, fine-tunes and early-stops."""

    config_type = LEDConfig
    config: LEDConfig

    # --- training ---------------------------------------------------------------------

    def pretrained_vectors(self, train: Interactions) -> np.ndarray:
        c, p, seed = self.config, self.config.pretrain, self.config.train.seed
        if c.init == "rsvd":
            pmi_config = PMISVDConfig(
                dim=c.dim, window=p.pmi_window, variant=p.pmi_variant, shift=p.pmi_shift,
                singular_power=p.singular_power, event_types=p.pretrain_event_types, seed=seed,
            )  # fmt: skip
            return pmi_svd_embeddings(train, pmi_config)
        if c.init == "item2vec":
            i2v = Item2VecConfig(dim=c.dim, event_types=p.pretrain_event_types, seed=seed)
            return item2vec_embeddings(train, i2v)
        rng = np.random.default_rng(seed)
        return (rng.standard_normal((train.n_items, c.dim)) / np.sqrt(c.dim)).astype(np.float32)

    def plan(self, train: Interactions, device: torch.device) -> Plan:
        c, o = self.config, self.config.objective
        self.n_items = train.n_items
        net = LEDNetwork(self.pretrained_vectors(train), c.tuning, c.projection_init, c.norm_power)
        batcher = FoldInBatcher(
            train, o.target_fraction, o.dropout, c.max_history, o.target_event_types
        )
        item_counts = np.bincount(train.item, minlength=train.n_items)
        sampler = AliasSampler(popularity_distribution(item_counts, o.negative_gamma))

        def step(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            return self._loss(net, batcher.batch(rows, rng), sampler, rng, device)

        groups = [{"params": [net.bias]}]
        groups.append({"params": [net.projection if c.tuning == "project" else net.base]})
        return Plan(net, len(batcher), step, groups)

    def _loss(
        self,
        net: LEDNetwork,
        batch: FoldInBatch,
        sampler: AliasSampler,
        rng: np.random.Generator,
        device: torch.device,
    ) -> torch.Tensor:
        o = self.config.objective
        inputs = torch.from_numpy(batch.inputs).to(device)
        queries = net.queries(inputs, torch.from_numpy(batch.input_mask).to(device))  # (B, d)
        rows = torch.from_numpy(batch.target_rows).to(device)
        targets = torch.from_numpy(batch.target_items).to(device)
        if o.loss == "softmax":
            all_scores = queries @ net.base.T + net.bias
            return losses.full_softmax(all_scores, rows, targets)
        pos = (queries[rows] * net.base[targets]).sum(-1) + net.bias[targets]  # (P,)
        negatives = sampler.sample(rng, o.negatives)
        neg_rows = torch.from_numpy(negatives).to(device)
        neg = queries @ net.base[neg_rows].T + net.bias[neg_rows]  # (B, N)
        keys = np.arange(len(batch.users))[:, None] * self.n_items + negatives[None, :]
        neg_mask = torch.from_numpy((~np.isin(keys, batch.positives)).astype(np.float32))
        neg_mask = neg_mask.to(device)
        if o.loss == "bpr":
            return losses.bpr(pos, rows, neg, neg_mask)
        if o.loss == "ns":
            return losses.negative_sampling(pos, rows, neg, neg_mask)
        return losses.complementary_sum_sampling(pos, rows, neg, neg_mask, self.n_items)

    def freeze(self, module: torch.nn.Module) -> None:
        assert isinstance(module, LEDNetwork)
        with torch.no_grad():
            self._set(to_numpy(module.item_table()), to_numpy(module.bias))

    def _set(self, table: np.ndarray, bias: np.ndarray) -> None:
        self._table = np.ascontiguousarray(table, dtype=np.float32)
        self._bias = np.ascontiguousarray(bias, dtype=np.float32)
        self.n_items = len(self._bias)
        self._module = LEDEncoder(self._table, self.config.norm_power).eval()

    # --- serving side -------------------------------------------------------------------

    def encoder_spec(self) -> EncoderSpec:
        return EncoderSpec(
            inputs=(InputSpec("items", "item_rows"), InputSpec("weights", "mask")),
            outputs=(
                OutputSpec("user", "user_vector", self._table.shape[1] + 1),
                OutputSpec("share", "history_weights"),
            ),
            history=HistoryPolicy(max_length=self.config.max_history, distinct_items=True),
        )

    def export_encoder(self) -> torch.nn.Module:
        return self._module

    def item_vectors(self) -> np.ndarray:
        return np.concatenate([self._table, self._bias[:, None]], axis=1)

    def stateful(self) -> StatefulModules:
        """A running sum and count (``LEDStep``), so a user who just acted is answered
        without re-reading their history."""
        return StatefulModules(
            state_dim=self._table.shape[1] + 1,
            step=LEDStep(self._table).eval(),
            step_inputs=(("state", "state"), ("item", "item_row"), ("new", "new_item")),
            readout=LEDReadout(self.config.norm_power).eval(),
            readout_inputs=(("state", "state"),),
        )

    def explanation(self) -> str:
        """The user vector is sum_i a_i [v_i, 0] + [0, 1]: additive over history items."""
        return "additive"

    def semantics(self) -> tuple[ColdStart, ItemQuery]:
        """Cold start: the query [0, ..., 0, 1] ranks items by their learned bias b_i
        alone (sec. 6.2); similar items: <v_i, v_j>, the bias column zeroed."""
        d = self._table.shape[1]
        cold = ColdStart("query", (0.0,) * d + (1.0,))
        return cold, ItemQuery((QueryBlock(d, 1.0), QueryBlock(1, 0.0)))

    def state(self) -> dict[str, np.ndarray]:
        return {"item_table": self._table, "item_bias": self._bias}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> LED:
        model = cls(**config)
        model._set(arrays["item_table"], arrays["item_bias"])
        return model
