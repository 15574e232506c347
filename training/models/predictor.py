"""Feed-forward predictor and soft-split auto-encoder on time-decayed purchase history
(``nn-predictor-autoencoder-time-decay``, Amazon).

The input is the user's multi-hot history over items, each item weighted by
its age d (days before the query time) through a time decay: the parametric
Td(d) = 1 / (1 + d / t_i) of eq. 5, or a decay learned by a 1-D convolution
with stride 32 over each item's 32-bucket age encoding (eq. 4), or none. Two
hidden layers (eq. 3: A_j = Drop(Act(W_j A_{j-1} + B_j))) and a sigmoid output
over every item, trained with the weighted cross-entropy of eq. 3, L2, the KL
sparsity penalty on the hidden activations, masking noise on the input (xi),
under one of the three formulations of Figure 5:

- ``predictor``: past X -> the next period's Y (a hard date split), eq. 3/9;
- ``ew``: equally weighted auto-encoder + predictor: predicts X and Y, no
  decay (t_i = t_o = 10^6, wp0 = 0), eqs. 7-9;
- ``soft-split``: time decay on the input (t_i) and on the auto-encoder's
  past targets (t_o, eq. 8), wp0 = 0; t_i = 40, t_o = 4 days as the paper.

Served as inner-product search: the user side is the network up to the last
hidden layer A_{L-1} (``encoder.onnx``: item rows + event ages), the item side
row j of the output layer and its bias, score_j = <[A_{L-1}, 1], [W_L[j],
B_L[j]]>. The output sigmoid is monotone, so the top k of the pre-activation
is the top k of the predicted probabilities.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.functional import logsigmoid

from bundle.history import HistoryPolicy, Sequences
from bundle.inputs import build_inputs
from bundle.manifest import ColdStart, EncoderSpec, InputSpec, ItemQuery, OutputSpec, QueryBlock
from training.data.interactions import Interactions
from training.data.periods import Periods, periods
from training.models.torch_base import TorchRetrievalModel, to_numpy
from training.registry import register
from training.trainer import Plan, TrainConfig

DAY = 86_400.0
NO_DECAY = 1e6  # days: t = 10^6 is the paper's "no time decay"
FORMULATIONS = ("predictor", "ew", "soft-split")
DECAYS = ("none", "parametric", "learned")
BUCKETS = 32


@dataclass(frozen=True)
class PredictorConfig:
    formulation: str = "predictor"  # predictor | ew | soft-split (Figure 5)
    decay: str = "parametric"  # none | parametric (eq. 5) | learned (eq. 4)
    input_decay_days: float | None = None  # t_i; None: 40 for soft-split, 10^6 otherwise
    output_decay_days: float = 4.0  # t_o of the soft split (eq. 8)
    positive_weight: float = 1.0  # w1 (wa1, wp1)
    negative_weight: float = 1.0  # w0 (wa0; wp0 of the predictor)
    hidden: tuple[int, ...] = (256, 128)  # two hidden layers, as every model of the paper
    activation: str = "relu"  # relu | sigmoid
    dropout: float = 0.2
    input_noise: float = 0.2  # xi: masking noise, the share of input events dropped
    l2: float = 1e-6  # lambda
    sparsity: float = 0.05  # rho
    sparsity_weight: float = 0.0  # beta of the KL penalty (0: off)
    target_fraction: float = 0.1  # Y = this share of the training events after the cut dxy
    windows: int = 7  # staggered X/Y cuts: the paper trains on one; a short log (ML-100K)
    # gives one cut too few examples (chosen on the validation period, with lr and batch)
    decay_horizon_days: float | None = None  # the 32 buckets span this (None: the log)
    history: int = 200  # latest distinct items the encoder reads
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=1e-2, batch_size=32, max_epochs=100, eval_every=1, patience=20,
            eval_metric="precision@10",
        )
    )  # fmt: skip

    def __post_init__(self) -> None:
        checks = [
            (self.formulation in FORMULATIONS, f"formulation must be one of {FORMULATIONS}"),
            (self.decay in DECAYS, f"decay must be one of {DECAYS}"),
            (self.activation in ("relu", "sigmoid"), "activation must be relu or sigmoid"),
            (len(self.hidden) >= 1 and min(self.hidden) >= 1, "hidden: layer sizes >= 1"),
            (0.0 <= self.dropout < 1.0 and 0.0 <= self.input_noise < 1.0, "dropout, noise"),
            (0.0 < self.sparsity < 1.0, "sparsity (rho) must be in (0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def t_i(self) -> float:
        """Input decay in days; the EW formulation has none (Figure 5b)."""
        if self.formulation == "ew":
            return NO_DECAY
        if self.input_decay_days is not None:
            return self.input_decay_days
        return 40.0 if self.formulation == "soft-split" else NO_DECAY

    @property
    def weights(self) -> tuple[float, float, float, float]:
        """(wa1, wa0, wp1, wp0) of eqs. 8-9 for the formulation."""
        w1, w0 = self.positive_weight, self.negative_weight
        if self.formulation == "predictor":
            return 0.0, 0.0, w1, w0
        return w1, w0, w1, 0.0


def parametric_decay(age_days: torch.Tensor, decay_days: float) -> torch.Tensor:
    """Td(d, decay) = 1 / (1 + d / decay) of eq. 5 (ages are >= 0)."""
    return 1.0 / (1.0 + age_days / decay_days)


class PredictorNetwork(torch.nn.Module):
    """Input layer as an embedding bag over the history's items (W_1 A_0 without the
    dense multi-hot), hidden layers, output layer over every item."""

    def __init__(self, n_items: int, config: PredictorConfig, bucket_days: float) -> None:
        super().__init__()
        h = config.hidden
        self.act = torch.relu if config.activation == "relu" else torch.sigmoid
        self.first = torch.nn.Parameter(torch.randn(n_items, h[0]) * (1.0 / np.sqrt(h[0])))
        self.first_bias = torch.nn.Parameter(torch.zeros(h[0]))
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in itertools.pairwise(h))
        self.out = torch.nn.Parameter(torch.randn(n_items, h[-1]) * (1.0 / np.sqrt(h[-1])))
        self.out_bias = torch.nn.Parameter(torch.zeros(n_items))
        self.drop = torch.nn.Dropout(config.dropout)
        self.decay, self.t_i, self.bucket_days = config.decay, config.t_i, bucket_days
        # eq. 4: one kernel of 32 weights over each item's bucket encoding, and a bias
        self.kernel = torch.nn.Parameter(torch.ones(BUCKETS))
        self.kernel_bias = torch.nn.Parameter(torch.zeros(()))
        self.learn_decay = config.decay == "learned"
        self.kernel.requires_grad_(self.learn_decay)
        self.kernel_bias.requires_grad_(self.learn_decay)

    def event_weights(self, ages: torch.Tensor) -> torch.Tensor:
        """(B, H) each event's input value A_0[item] from its age in seconds."""
        days = ages / DAY
        if self.decay == "parametric":
            return parametric_decay(days, self.t_i)
        if self.decay == "learned":  # Act(wf[bucket] + wb), minus what a 0 input gives
            bucket = torch.clamp(torch.floor(days / self.bucket_days), 0, BUCKETS - 1).long()
            return self.act(self.kernel[bucket] + self.kernel_bias) - self.act(self.kernel_bias)
        return torch.ones_like(days)

    def hidden_layers(
        self,
        items: torch.Tensor,
        ages: torch.Tensor,
        mask: torch.Tensor,
        keep: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """A_{L-1} (B, h_last) and every hidden activation (for the KL penalty).

        W_1 A_0 = sum_e A_0[item_e] W_1[:, item_e] + Act(wb) * sum_p W_1[:, p]
        (the second term: the learned decay's value of items not in the history)."""
        weight = self.event_weights(ages) * mask
        if keep is not None:  # masking noise xi
            weight = weight * keep
        pre = (self.first[items] * weight[..., None]).sum(1) + self.first_bias
        if self.learn_decay:
            pre = pre + self.act(self.kernel_bias) * self.first.sum(0)
        a = self.drop(self.act(pre))
        activations = [a]
        for layer in self.layers:
            a = self.drop(self.act(layer(a)))
            activations.append(a)
        return a, activations

    def decay_curve(self, days: np.ndarray) -> np.ndarray:
        """The input weight of an item bought ``days`` ago (Figure 4)."""
        with torch.no_grad():
            ages = torch.from_numpy(np.asarray(days, np.float32) * DAY)
            return self.event_weights(ages).numpy()


class PredictorEncoder(torch.nn.Module):
    """ONNX-exportable user side: (items, ages, mask) -> [A_{L-1}, 1]."""

    def __init__(self, network: PredictorNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, items: torch.Tensor, ages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.network.hidden_layers(items, ages, mask)
        return torch.cat([hidden, torch.ones_like(hidden[:, :1])], dim=1)


def kl_sparsity(rho: float, activations: list[torch.Tensor]) -> torch.Tensor:
    """sum_j KL(rho || rho_j) over hidden units, rho_j their mean activation (Ng 2011)."""
    total = activations[0].new_zeros(())
    for a in activations:
        mean = a.mean(0).clamp(1e-4, 1 - 1e-4)
        total = (
            total
            + (rho * torch.log(rho / mean) + (1 - rho) * torch.log((1 - rho) / (1 - mean))).sum()
        )
    return total


@register("predictor")
class Predictor(TorchRetrievalModel):
    config_type = PredictorConfig
    config: PredictorConfig

    # --- training ---------------------------------------------------------------------

    def plan(self, train: Interactions, device: torch.device) -> Plan:
        c = self.config
        examples = periods(train, c.target_fraction, c.windows)
        self.n_items = train.n_items
        span = float(train.timestamp.max() - train.timestamp.min()) / DAY if len(train) else 1.0
        self._bucket_days = max((c.decay_horizon_days or span) / BUCKETS, 1e-3)
        net = PredictorNetwork(self.n_items, c, self._bucket_days)
        spec = self.encoder_spec(c.hidden[-1] + 1)

        def step(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            return self._loss(net, examples, rows, spec, rng, device)

        return Plan(net, len(examples), step)

    def _loss(
        self,
        net: PredictorNetwork,
        examples: Periods,
        rows: np.ndarray,
        spec: EncoderSpec,
        rng: np.random.Generator,
        device: torch.device,
    ) -> torch.Tensor:
        c = self.config
        inputs = build_inputs(spec, examples.inputs.take(rows), examples.now[rows])
        mask = inputs["mask"]
        keep = (rng.random(mask.shape) >= c.input_noise).astype(np.float32)

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(device)

        hidden, activations = net.hidden_layers(
            tensor(inputs["items"]), tensor(inputs["ages"]), tensor(mask), tensor(keep)
        )
        logits = hidden @ net.out.T + net.out_bias  # (B, P)
        y, x, xy = (tensor(a) for a in self._targets(examples, rows, inputs))
        wa1, wa0, wp1, wp0 = c.weights
        positive, negative = logsigmoid(logits), logsigmoid(-logits)
        predict = wp1 * y * positive + wp0 * (1 - y) * negative  # eq. 9
        auto = wa1 * x * positive + wa0 * (1 - xy) * negative  # eq. 8
        loss = -(predict + auto).sum(1).mean()
        if c.l2 > 0:
            weights: list[torch.Tensor] = [net.first, net.out]
            weights += [layer.weight for layer in net.layers]  # type: ignore[misc]
            loss = loss + c.l2 * sum((w**2).sum() for w in weights)
        if c.sparsity_weight > 0:
            loss = loss + c.sparsity_weight * kl_sparsity(c.sparsity, activations)
        return loss

    def _targets(
        self, examples: Periods, rows: np.ndarray, inputs: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, P) each: Y multi-hot, X weighted by Td(age, t_o) (eq. 8), X or Y."""
        b = len(rows)
        y = np.zeros((b, self.n_items), np.float32)
        out = examples.outputs.take(rows)
        y[out.row_ids(), out.item] = 1.0
        x = np.zeros_like(y)
        r, col = np.nonzero(inputs["mask"])
        if self.config.formulation != "predictor":
            t_o = NO_DECAY if self.config.formulation == "ew" else self.config.output_decay_days
            days = inputs["ages"][r, col] / DAY
            np.maximum.at(x, (r, inputs["items"][r, col]), 1.0 / (1.0 + days / t_o))
        xy = y.copy()
        xy[r, inputs["items"][r, col]] = 1.0
        return y, x, xy

    def freeze(self, module: torch.nn.Module) -> None:
        assert isinstance(module, PredictorNetwork)
        network = copy.deepcopy(module).to("cpu").eval()
        self._network = network
        self._module = PredictorEncoder(network).eval()

    # --- serving side -------------------------------------------------------------------

    def encoder_spec(self, dim: int | None = None) -> EncoderSpec:
        return EncoderSpec(
            inputs=(
                InputSpec("items", "item_rows"),
                InputSpec("ages", "age_seconds"),
                InputSpec("mask", "mask"),
            ),
            outputs=(OutputSpec("user", "user_vector", dim or self.config.hidden[-1] + 1),),
            history=HistoryPolicy(max_length=self.config.history, distinct_items=True),
        )

    def export_encoder(self) -> torch.nn.Module:
        return self._module

    def item_vectors(self) -> np.ndarray:
        n = self._network
        return np.concatenate([to_numpy(n.out), to_numpy(n.out_bias)[:, None]], axis=1)

    def semantics(self) -> tuple[ColdStart, ItemQuery]:
        """Cold start: the network's own answer for an empty history, [A_{L-1}(0), 1];
        similar items: <W_L[i], W_L[j]>, the bias column zeroed."""
        empty = Sequences.from_lists([[]])
        query = self.encode_user(empty, np.zeros(1))[0]
        h = self.config.hidden[-1]
        return ColdStart("query", tuple(float(v) for v in query)), ItemQuery(
            (QueryBlock(h, 1.0), QueryBlock(1, 0.0))
        )

    def write_artifacts(self, folder: Path, prefix: str = "") -> list[Path]:
        """``decay.png``: the input time decay as a function of the age (Figure 4)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        days = np.linspace(0, BUCKETS * self._bucket_days, 400)
        figure, axes = plt.subplots(figsize=(6, 3.5))
        axes.plot(days, self._network.decay_curve(days), label=f"{self.config.decay} decay")
        axes.plot(days, 1.0 / (1.0 + days / 40.0), "--", label="Td(d, 40), eq. 5")
        axes.set_xlabel("age of the event (days)")
        axes.set_ylabel("input weight")
        axes.set_title(f"predictor ({self.config.formulation}): time decay of the input")
        axes.legend()
        figure.tight_layout()
        path = Path(folder) / f"{prefix}decay.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return [path]

    def state(self) -> dict[str, np.ndarray]:
        arrays = {k: to_numpy(v) for k, v in self._network.state_dict().items()}
        return {**arrays, "bucket_days": np.array(self._bucket_days)}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Predictor:
        model = cls(**config)
        model._bucket_days = float(arrays["bucket_days"])
        model.n_items = len(arrays["out_bias"])
        net = PredictorNetwork(model.n_items, model.config, model._bucket_days)
        net.load_state_dict(
            {k: torch.from_numpy(v) for k, v in arrays.items() if k != "bucket_days"}
        )
        model.freeze(net)
        return model
