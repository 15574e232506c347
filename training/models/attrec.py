"""AttRec: self-attentive metric learning (Zhang et al., AAAI 2019; ``attrec-self-attentive-
metric-learning``).

Short-term intent: self-attention over the user's last L items X_t (eq. 1),
with a shared ReLU projection of query and key (eqs. 2-3) to which the sinusoidal
time signal is added first (eqs. 7-8), a scaled softmax with the diagonal
masked (eq. 4), the items themselves as values (eq. 5) and the mean over the
L outputs (eq. 6): m_u. Long-term preference: a user vector U_u. The score of
item j is the weighted distance of eq. 10,

    y_uj = w ||U_u - V_j||^2 + (1 - w) ||m_u - X_j||^2,    smaller is better,

trained with the margin hinge loss of eq. 11 over the next T items and T
sampled negatives each, with L2 (or the norm clipping of eq. 12), by Adagrad.

Served as inner-product search: expanding the squares,

    -y_uj = <[2w U, 2(1-w) m, -w, -(1-w)], [V_j, X_j, |V_j|^2, |X_j|^2]> - c_u,

where c_u = w|U|^2 + (1-w)|m|^2 is the same for every item, so the top k by
inner product is the top k by smallest distance. (ARCHITECTURE.md writes the
two squared norms as one column; keeping them apart lets the query weigh them
per user, which the unknown-user fall-back below needs.) A user the model has
no U_u for gets the fall-back ``unknown_user`` names: ``fold-in`` (U_u = the
mean of V over their history, the minimiser of sum_i ||U - V_i||^2; the
default) or ``short-term`` (w = 0 for that user). On ML-100K's user-holdout
users fold-in measured better (Recall@20 0.251 vs 0.244, ``make
bench-attrec``); short-term is kept for that comparison only: served, its
HNSW candidates come from an index weighted by the model's w.

Served statefully (``bundle.state``): the user's state is the sum of V over
their history, its count and their last L item rows (``AttRecStep``, one step
per recorded event); Recommend reads it out (``AttRecReadout``: the same
attention and query as the one-pass encoder), so it maps no history.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bundle.history import HistoryPolicy
from bundle.manifest import (
    ColdStart,
    EncoderSpec,
    IndexForm,
    InputSpec,
    ItemQuery,
    OutputSpec,
    Projection,
    ProjectionBlock,
    QueryBlock,
)
from training.data.interactions import Interactions
from training.data.windows import Windows, sliding_windows
from training.models.base import StatefulModules
from training.models.torch_base import TorchRetrievalModel, to_numpy
from training.registry import register
from training.trainer import Plan, TrainConfig

UNKNOWN_USER = ("fold-in", "short-term")
LOSSES = ("hinge", "logistic")


@dataclass(frozen=True)
class AttRecConfig:
    """The paper's MovieLens settings (sec. "Implementation Details": T = 3, margin 0.5,
    Adagrad with learning rate 0.05, L2 tuned in {1e-1 .. 1e-4}, omega in 0.2-0.4 for
    dense data) with d, L, omega, negatives and batch chosen on ML-100K's validation
    items (the paper's d = 100, L = 5, omega = 0.2, one negative: HR@50 about 0.02
    lower, ``make bench-attrec``). Training stops on the validation HR@50: the
    validation MRR peaks after a few epochs while HR@50 still rises."""

    dim: int = 150
    length: int = 6  # L: the last L items form the short-term intent
    targets: int = 3  # T: the next T items are the positives of a window
    weight: float = 0.1  # omega of eq. 10: long-term share of the distance
    margin: float = 0.5  # gamma of eq. 11
    negatives: int = 3  # sampled negatives per positive
    l2: float = 1e-2  # lambda of eq. 11 on the embeddings of a window (0 with norm_clip)
    attention_l2: float = 1e-2  # lambda on the attention's projection W_Q = W_K
    norm_clip: bool = False  # eq. 12: keep X, V, U in the unit ball instead of L2
    dropout: float = 0.0  # on the keys of the attention's nonlinear layer
    self_attention: bool = True  # False: m_u = mean of X_t (the paper's ablation)
    time_signal: bool = True  # eqs. 7-8
    loss: str = "hinge"  # hinge (eq. 11) | logistic (the authors' released code)
    init_std: float = 0.01
    unknown_user: str = "fold-in"  # fold-in | short-term
    history: int = 200  # events the encoder reads (the fold-in of unknown users)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=0.05, batch_size=256, max_epochs=60, eval_every=1, patience=15,
            eval_metric="hr@50", optimizer="adagrad",
        )
    )  # fmt: skip

    def __post_init__(self) -> None:
        checks = [
            (self.dim >= 2 and self.length >= 1 and self.targets >= 1, "dim, length, targets"),
            (0.0 <= self.weight <= 1.0, "weight must be in [0, 1]"),
            (self.unknown_user in UNKNOWN_USER, f"unknown_user must be one of {UNKNOWN_USER}"),
            (self.loss in LOSSES, f"loss must be one of {LOSSES}"),
            (0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)"),
            (self.history >= self.length, "history must be >= length"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def time_signal(length: int, dim: int) -> torch.Tensor:
    """(length, dim) TE(t, 2i) = sin(t / 10000^(2i/d)), TE(t, 2i+1) = cos(...) (eqs. 7-8)."""
    t = torch.arange(length, dtype=torch.float32)[:, None]
    i = torch.arange(0, dim, 2, dtype=torch.float32)[None, :]
    angle = t / torch.pow(10000.0, i / dim)
    signal = torch.zeros(length, dim)
    signal[:, 0::2] = torch.sin(angle)
    signal[:, 1::2] = torch.cos(angle)[:, : dim // 2]
    return signal


class ShortTerm(torch.nn.Module):
    """m_u and the attention weights of each input item, eqs. 1-8.

    ``items``/``mask`` (B, H) are the user's events, oldest first, padded at the
    end; the last ``length`` real ones are attended (positions right-aligned so
    the latest item is always position L-1, as in training).
    """

    def __init__(self, dim: int, length: int, config: AttRecConfig) -> None:
        super().__init__()
        self.length = length
        # "query and key ... through nonlinear transformation with shared parameters":
        # W_Q = W_K (eqs. 2-3); the masked diagonal keeps an item from matching itself
        self.project = torch.nn.Linear(dim, dim, bias=False)
        self.dropout = torch.nn.Dropout(config.dropout)
        self.attention = config.self_attention
        self.signal: torch.Tensor
        self.register_buffer("signal", time_signal(length, dim) if config.time_signal else
                             torch.zeros(length, dim))  # fmt: skip
        self.scale = 1.0 / math.sqrt(dim)

    def forward(
        self, table: torch.Tensor, items: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, d) m_u and (B, H) each input event's weight in m_u."""
        L = self.length
        count = mask.sum(1).long()  # (B,)
        offset = torch.arange(L, device=items.device)[None, :]
        position = count[:, None] - L + offset  # (B, L) index of the window's events
        valid = position >= 0
        index = position.clamp_min(0)
        window = torch.gather(items, 1, index) * valid.long()  # (B, L)
        m, per_window = self.attend(table, window, valid)
        weights = torch.zeros_like(mask).scatter_add(1, index, per_window)
        return m, weights

    def attend(
        self, table: torch.Tensor, window: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, d) m_u of the right-aligned window (B, L) of item rows (``valid`` marks
        real events; the latest is position L-1), and (B, L) each event's weight in it."""
        L = self.length
        x = table[window]  # (B, L, d)
        weight = valid.to(x.dtype)
        n = weight.sum(1).clamp_min(1.0)  # (B,)
        if not self.attention:  # the paper's ablation: m_u = mean of the window's X
            affinity = torch.diag_embed(weight)
        else:
            inputs = x + self.signal[None]
            projected = torch.relu(self.project(inputs))
            q, k = projected, self.dropout(projected)
            logits = q @ k.transpose(1, 2) * self.scale  # (B, L, L)
            keys = valid[:, None, :].expand(-1, L, -1)
            others = keys & ~torch.eye(L, dtype=torch.bool, device=x.device)[None]
            # mask the diagonal (eq. 4) unless the item has no other item to attend to
            alone = others.sum(-1, keepdim=True) == 0
            allowed = (alone & keys) | (~alone & others)  # (no Where over bools in onnxruntime)
            logits = logits.masked_fill(~allowed, -1e9)
            affinity = torch.softmax(logits, dim=-1) * weight[:, :, None]  # (B, L, L)
        attended = affinity @ x  # (B, L, d), eq. 5 (rows of padding are zero)
        m = attended.sum(1) / n[:, None]  # eq. 6
        return m, affinity.sum(1) / n[:, None] * weight


class AttRecNetwork(torch.nn.Module):
    def __init__(self, n_users: int, n_items: int, config: AttRecConfig) -> None:
        super().__init__()
        d = config.dim

        def table(rows: int) -> torch.nn.Parameter:
            return torch.nn.Parameter(torch.randn(rows, d) * config.init_std)

        self.U, self.V, self.X = table(n_users), table(n_items), table(n_items)
        self.short = ShortTerm(d, config.length, config)
        self.weight = config.weight

    def distances(
        self, users: torch.Tensor, items: torch.Tensor, mask: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor:
        """(B, C) y_uj of eq. 10 for each window's candidate items (B, C)."""
        m, _ = self.short(self.X, items, mask)
        u = self.U[users]
        w = self.weight
        long = ((u[:, None, :] - self.V[candidates]) ** 2).sum(-1)
        short = ((m[:, None, :] - self.X[candidates]) ** 2).sum(-1)
        return w * long + (1.0 - w) * short


def served_query(
    m: torch.Tensor, user: torch.Tensor, known: torch.Tensor, mean_v: torch.Tensor | None,
    weight: float,
) -> torch.Tensor:  # fmt: skip
    """(B, 2d + 2) ``[2w U, 2(1-w) m, -w, -(1-w)]``; a user without a row of the user
    table (``known`` 0) gets U = ``mean_v`` (fold-in) or, when it is None, w = 0."""
    k = known[:, None]
    if mean_v is not None:  # U = mean of V over the history (argmin_U sum ||U - V_i||^2)
        u, w = k * user + (1.0 - k) * mean_v, torch.full_like(k, weight)
    else:  # short-term only: w = 0 for an unknown user
        u, w = user, k * weight
    return torch.cat([2 * w * u, 2 * (1 - w) * m, -w, -(1 - w)], dim=1)


class AttRecEncoder(torch.nn.Module):
    """ONNX-exportable user side: (items, mask, user_vector, user_known) ->
    ([2w U, 2(1-w) m, -w, -(1-w)], history weights)."""

    def __init__(self, short: ShortTerm, X: np.ndarray, V: np.ndarray, config: AttRecConfig):
        super().__init__()
        self.short = short
        self.X: torch.Tensor
        self.V: torch.Tensor
        self.register_buffer("X", torch.from_numpy(X))
        self.register_buffer("V", torch.from_numpy(V))
        self.weight = config.weight
        self.fold_in = config.unknown_user == "fold-in"

    def forward(
        self, items: torch.Tensor, mask: torch.Tensor, user: torch.Tensor, known: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        m, weights = self.short(self.X, items, mask)
        mean_v = None
        if self.fold_in:
            total = (self.V[items] * mask[..., None]).sum(1)
            mean_v = total / mask.sum(1, keepdim=True).clamp_min(1.0)
        return served_query(m, user, known, mean_v, self.weight), weights


class AttRecStep(torch.nn.Module):
    """The ``step`` graph of a stateful AttRec bundle: (state (1, d + 1 + L), item (1,))
    -> the next state. The state is ``[sum of V over the history, event count, the last
    L item rows + 1]`` (0: no event yet; rows are exact in float32 below 2^24), so the
    readout finds the short-term window and the fold-in mean without the history."""

    def __init__(self, V: np.ndarray, length: int) -> None:
        super().__init__()
        self.V: torch.Tensor
        self.register_buffer("V", torch.from_numpy(V))
        self.dim, self.length = V.shape[1], length

    def forward(self, state: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        d = self.dim
        total = state[:, :d] + self.V[item]
        count = state[:, d : d + 1] + 1.0
        rows = torch.cat([state[:, d + 2 :], (item + 1).to(state.dtype)[:, None]], dim=1)
        return torch.cat([total, count, rows], dim=1)


class AttRecReadout(torch.nn.Module):
    """The ``readout`` graph: (state, user_vector, user_known) -> the one-pass encoder's
    query: self-attention over the window the state holds (eqs. 1-8), U_u from the user
    table or folded in as sum / count of the state's V."""

    def __init__(self, short: ShortTerm, X: np.ndarray, config: AttRecConfig) -> None:
        super().__init__()
        self.short = short
        self.X: torch.Tensor
        self.register_buffer("X", torch.from_numpy(X))
        self.dim, self.weight = X.shape[1], config.weight
        self.fold_in = config.unknown_user == "fold-in"

    def forward(self, state: torch.Tensor, user: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        d = self.dim
        rows = torch.round(state[:, d + 1 :]).long()  # (1, L) row + 1, 0: none
        m, _ = self.short.attend(self.X, (rows - 1).clamp_min(0), rows > 0)
        mean_v = state[:, :d] / state[:, d : d + 1].clamp_min(1.0) if self.fold_in else None
        return served_query(m, user, known, mean_v, self.weight)


@register("attrec")
class AttRec(TorchRetrievalModel):
    config_type = AttRecConfig
    config: AttRecConfig

    # --- training ---------------------------------------------------------------------

    def plan(self, train: Interactions, device: torch.device) -> Plan:
        c = self.config
        seqs = train.sequences()
        # every position from the second event on (shorter inputs padded, as Caser does):
        # dropping the first L positions of each user cost 0.02 HR@50 on ML-100K
        windows = sliding_windows(seqs, c.length, c.targets)
        self.n_items, n_users = train.n_items, train.n_users
        self._trained = np.zeros(n_users, dtype=bool)
        self._trained[windows.rows] = True
        net = AttRecNetwork(n_users, self.n_items, c)
        seen = np.unique(train.user.astype(np.int64) * self.n_items + train.item)

        def step(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            batch = windows.take(rows)
            negatives = self._negatives(batch, seen, rng)
            return self._loss(net, batch, negatives, device)

        after = None
        if c.norm_clip:

            def after() -> None:
                with torch.no_grad():
                    for table in (net.U, net.V, net.X):
                        table.data /= table.data.norm(dim=1, keepdim=True).clamp_min(1.0)

        return Plan(net, len(windows), step, after_step=after)

    def _negatives(self, batch: Windows, seen: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B, T * negatives) items the window's user never had in training (redrawn)."""
        shape = (len(batch), self.config.targets * self.config.negatives)
        out = rng.integers(0, self.n_items, size=shape)
        for _ in range(20):
            keys = batch.rows[:, None] * self.n_items + out
            bad = seen[np.minimum(np.searchsorted(seen, keys), len(seen) - 1)] == keys
            if not bad.any():
                break
            out[bad] = rng.integers(0, self.n_items, size=int(bad.sum()))
        return out

    def _loss(
        self, net: AttRecNetwork, batch: Windows, negatives: np.ndarray, device: torch.device
    ) -> torch.Tensor:
        c = self.config

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(device)

        candidates = np.concatenate([batch.targets, negatives], axis=1)
        y = net.distances(
            tensor(batch.rows), tensor(batch.inputs), tensor(batch.input_mask), tensor(candidates)
        )
        pos, neg = y[:, : c.targets], y[:, c.targets :]
        mask = tensor(batch.target_mask)
        if c.loss == "hinge":  # eq. 11: every (positive, negative) pair of the window
            pairs = torch.relu(pos[:, :, None] + c.margin - neg[:, None, :]) * mask[..., None]
            loss = pairs.sum((1, 2))
        else:
            softplus = torch.nn.functional.softplus
            loss = (softplus(pos) * mask).sum(1) + softplus(-neg).sum(1)
        if c.l2 > 0 and not c.norm_clip:
            rows = tensor(batch.rows)
            items = tensor(np.concatenate([batch.inputs, candidates], axis=1))
            real = np.ones(negatives.shape, np.float32)  # padding is no item: not regularised
            used = tensor(np.concatenate([batch.input_mask, batch.target_mask, real], axis=1))
            rows_norm = (net.V[items] ** 2).sum(2) + (net.X[items] ** 2).sum(2)
            reg = (net.U[rows] ** 2).sum(1) + (rows_norm * used).sum(1)
            loss = loss + c.l2 * reg
        penalty = c.attention_l2 * sum((p**2).sum() for p in net.short.parameters())
        return loss.mean() + penalty

    def freeze(self, module: torch.nn.Module) -> None:
        assert isinstance(module, AttRecNetwork)
        self._U, self._V, self._X = to_numpy(module.U), to_numpy(module.V), to_numpy(module.X)
        short = copy.deepcopy(module.short).to("cpu").eval()
        self._module = AttRecEncoder(short, self._X, self._V, self.config).eval()
        self._short_state = {k: to_numpy(v) for k, v in short.state_dict().items()}

    # --- serving side -------------------------------------------------------------------

    def encoder_spec(self) -> EncoderSpec:
        d = self.config.dim
        return EncoderSpec(
            inputs=(
                InputSpec("items", "item_rows"),
                InputSpec("mask", "mask"),
                InputSpec("user", "user_vector"),
                InputSpec("known", "user_known"),
            ),
            outputs=(
                OutputSpec("query", "user_vector", 2 * d + 2),
                OutputSpec("attention", "history_weights"),
            ),
            history=HistoryPolicy(max_length=self.config.history),
        )

    def export_encoder(self) -> torch.nn.Module:
        return self._module

    def stateful(self) -> StatefulModules | None:
        """A state of ``[sum of V, count, last L item rows]`` (``AttRecStep``): RecordEvents
        steps it, Recommend reads it out without mapping the history (``AttRecReadout``).
        None for a catalogue whose rows float32 cannot hold exactly."""
        if len(self._X) + 1 >= 2**24:
            return None
        d, L = self.config.dim, self.config.length
        return StatefulModules(
            state_dim=d + 1 + L,
            step=AttRecStep(self._V, L).eval(),
            step_inputs=(("state", "state"), ("item", "item_row")),
            readout=AttRecReadout(self._module.short, self._X, self.config).eval(),
            readout_inputs=(("state", "state"), ("user", "user_vector"), ("known", "user_known")),
        )

    def explanation(self) -> str:
        """The self-attention weights of each history event in m_u (eqs. 4-6)."""
        return "attention"

    def item_vectors(self) -> np.ndarray:
        V, X = self._V, self._X
        norms = np.stack([(V**2).sum(1), (X**2).sum(1)], axis=1)
        return np.concatenate([V, X, norms], axis=1).astype(np.float32)

    def index_form(self) -> IndexForm:
        """The index searches z_j = [sqrt(w) V_j, sqrt(1-w) X_j] in L2 from z_u =
        [sqrt(w) U_u, sqrt(1-w) m_u]: ||z_u - z_j||^2 is y_uj of eq. 10, so the index
        ranks items exactly as the model. (An inner-product graph over the item
        vectors, with their squared norms, found under 10% of the exact top 10 of a
        100K-item catalogue: items are not neighbours of each other in that space.)"""
        d, w = self.config.dim, self.config.weight
        root_w, root_rest = math.sqrt(w), math.sqrt(1.0 - w)
        items = Projection((ProjectionBlock(d, root_w), ProjectionBlock(d, root_rest),
                            ProjectionBlock(2, 0.0, keep=False)))  # fmt: skip
        queries = Projection((
            ProjectionBlock(d, 1 / (2 * root_w) if w > 0 else 0.0),
            ProjectionBlock(d, 1 / (2 * root_rest) if w < 1 else 0.0),
            ProjectionBlock(2, 0.0, keep=False),
        ))  # fmt: skip
        return IndexForm("l2", items, queries)

    def user_table(self) -> tuple[np.ndarray, np.ndarray]:
        return self._U, self._trained

    def user_fallback(self) -> str:
        if self.config.unknown_user == "fold-in":
            return "fold-in: U_u = mean of V over the user's history"
        return "short-term: w = 0 (the self-attention term alone)"

    def semantics(self) -> tuple[ColdStart, ItemQuery]:
        """Cold start: popularity (without history there is no short-term intent and
        no U_u). Similar items: the items nearest to j in the eq. 10 distance,
        <[2w V_j, 2(1-w) X_j, -w, -(1-w)], x_i>."""
        d, w = self.config.dim, self.config.weight
        blocks = (QueryBlock(d, 2 * w), QueryBlock(d, 2 * (1 - w)),
                  QueryBlock(1, 0.0, -w), QueryBlock(1, 0.0, -(1 - w)))  # fmt: skip
        return ColdStart("popularity"), ItemQuery(blocks)

    def state(self) -> dict[str, np.ndarray]:
        short = {f"short.{k}": v for k, v in self._short_state.items()}
        return {"U": self._U, "V": self._V, "X": self._X, "trained": self._trained, **short}

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> AttRec:
        model = cls(**config)
        U, V = arrays["U"], arrays["V"]
        net = AttRecNetwork(len(U), len(V), model.config)
        net.load_state_dict(
            {"U": torch.from_numpy(U), "V": torch.from_numpy(V), "X": torch.from_numpy(arrays["X"]),
             **{k: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("short.")}}
        )  # fmt: skip
        model._trained = np.asarray(arrays["trained"], dtype=bool)
        model.n_items = len(V)
        model.freeze(net)
        return model
