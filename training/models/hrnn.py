"""HRNN-meta: a GRU over time-ordered events with time, feedback and metadata inputs
(Ma et al., "Temporal-Contextual Recommendation in Real-Time", KDD 2020;
``hrnn-meta-temporal-contextual``, sections 2-3).

The user's state after k events is a GRU state h_k (eq. 1). Each step reads the
concatenation of section 2.2-2.3: the item embedding, the **time delta** since
the previous event as a learned embedding of log2-spaced buckets (the control
input that replaces HGRU's session hierarchy), the **feedback** of the event
(event type embedding and the standardised value), the **item features**
through a field-aware MLP, and the **user features** through another.

**Query-time context** (sec. 4.2): the recommendation at time ``now`` takes one
more step from h_k, with no item (a learned query token) and the delta
``now - t_k`` as control input; its output u is the user vector, so the same
history gives different answers within a session and after a long gap. In
training, position k predicts item k+1 from the step with delta t_{k+1} - t_k.

**Decoder with metadata** (eq. 2): ``phi_j = (1 - lambda)(w_j . u + b_j) +
lambda (w(f_j) . u + b(f_j))`` with lambda ~ U[0, 1] per example in training, so
that the metadata decoder w(f), b(f) learns to score on its own. At inference
items with training interactions use ``serve_lambda`` and items without any use
lambda = 1 (cold start from metadata). Served as inner-product search:
user ``[u, 1]``, item ``[(1 - l) w_j + l w(f_j), (1 - l) b_j + l b(f_j)]``.

**Loss**: the full softmax cross-entropy of the next item (eq. 3) for small
catalogues; importance-sampled softmax (sec. 3.1) for large ones: one shared
set of negatives per batch drawn from q ~ count^0.75 by the alias method,
every candidate's score corrected by ``- log q_j`` and accidental hits masked.

**Item trend decomposition** (sec. 3.2, eq. 5, optional): the item's recent
popularity ``log(alpha + decayed count before the event)`` is added to its score
in training, so the network learns the user-affinity residual; at serving the
server's live trend term (the same quantity, ``service.trends``) supplies it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bundle.features import FeatureSchema
from bundle.history import HistoryPolicy, Sequences
from bundle.manifest import ColdStart, EncoderSpec, InputSpec, ItemQuery, OutputSpec, QueryBlock
from training.data.interactions import Interactions
from training.data.sampling import AliasSampler, popularity_distribution
from training.models.base import ItemEncoderModule, StatefulModules
from training.models.torch_base import TorchRetrievalModel, to_numpy
from training.registry import register
from training.trainer import Plan, TrainConfig
from training.trends import DecayedCounter

SOFTMAX = ("auto", "full", "sampled")


@dataclass(frozen=True)
class HRNNConfig:
    """Hidden size, BPTT length and dropout follow the language-model settings the
    paper says it used (sec. 4); the rest was chosen on ML-100K's validation users
    (``make bench-hrnn``)."""

    hidden: int = 128
    item_dim: int = 64  # item embedding width of the GRU input
    time_buckets: int = 32  # bucket 0: no previous event; b >= 1: floor(log2(1 + dt)) + 1
    time_dim: int = 16
    feedback_dim: int = 8  # event type embedding (the standardised value is one more input)
    field_dim: int = 8  # per-field width of the field-aware metadata MLPs
    meta_dim: int = 32  # item features, as a GRU input
    user_dim: int = 16  # user features, as a GRU input
    user_id_dim: int = 0  # a learned embedding of the user id as one more user feature (0: none)
    dropout: float = 0.25  # on the GRU inputs and on the user vector
    bptt: int = 200  # events per training window (back-propagation through time)
    time_delta: bool = True
    feedback: bool = True
    item_features: bool = True
    user_features: bool = True
    # eq. 2 for catalogues with items that have no events (new items, cold start); off by
    # default: on ML-100K's validation users training with lambda ~ U[0, 1] cost 0.02 NDCG@50
    # (test HR@50 0.471 vs 0.529), as the paper's Fig. 4(a) finds without a train/test shift
    metadata_decoder: bool = False
    serve_lambda: float = 0.0  # lambda of eq. 2 at inference for items with interactions
    softmax: str = "auto"  # auto: full up to full_softmax_items, sampled above
    full_softmax_items: int = 50_000
    negatives: int = 1024  # shared importance-sampled negatives per batch
    sample_gamma: float = 0.75  # q ~ count^gamma
    exclude_seen: bool = True  # no softmax mass on items already in the window (never served)
    trend: bool = False  # item trend decomposition (sec. 3.2)
    trend_alpha: float = 1.0
    trend_half_life_s: float = 7 * 86400.0
    history: int = 200  # events the one-pass encoder reads
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            lr=2e-3,
            batch_size=64,
            max_epochs=100,
            patience=8,
            eval_metric="ndcg@50",
            clip_norm=5.0,
        )
    )

    def __post_init__(self) -> None:
        checks = [
            (
                min(self.hidden, self.item_dim, self.bptt, self.negatives, self.history) >= 1,
                "hidden, item_dim, bptt, negatives and history must be >= 1",
            ),
            (self.time_buckets >= 2, "time_buckets must be >= 2"),
            (0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)"),
            (0.0 <= self.serve_lambda <= 1.0, "serve_lambda must be in [0, 1]"),
            (self.softmax in SOFTMAX, f"softmax must be one of {SOFTMAX}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def time_bucket(delta: torch.Tensor, buckets: int) -> torch.Tensor:
    """Bucket of a time delta in seconds: floor(log2(1 + dt)) + 1, capped at
    ``buckets - 1`` (bucket 0 is kept for "no previous event")."""
    b = torch.floor(torch.log2(1.0 + delta.clamp_min(0.0)))
    return b.clamp(0.0, buckets - 2.0).long() + 1


def time_edges(buckets: int) -> tuple[float, ...]:
    """The time deltas at which ``time_bucket`` changes: 2^j - 1 seconds, j = 1 ..
    ``buckets - 2`` (a query's bucket, hence the readout, is constant between them)."""
    return tuple(float(2**j - 1) for j in range(1, buckets - 1))


class FieldMLP(torch.nn.Module):
    """Field-aware MLP: each field's block of columns (``FeatureSchema.slices``) gets
    its own linear map to ``field_dim``; the concatenation goes through ReLU and a
    linear layer to ``out``."""

    def __init__(self, slices: list[tuple[int, int]], field_dim: int, out: int) -> None:
        super().__init__()
        self.slices = slices
        self.fields = torch.nn.ModuleList(torch.nn.Linear(b - a, field_dim) for a, b in slices)
        self.out = torch.nn.Linear(field_dim * max(1, len(slices)), out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.slices:
            return self.out(torch.zeros(*x.shape[:-1], self.out.in_features, device=x.device))
        parts = [f(x[..., a:b]) for f, (a, b) in zip(self.fields, self.slices, strict=True)]
        return self.out(torch.relu(torch.cat(parts, dim=-1)))


class HRNNNetwork(torch.nn.Module):
    """The GRU, its input encoders and the two decoders of eq. 2.

    Item rows ``0..n_items-1`` are items; row ``n_items`` is the query token of the
    readout step. Event types ``0..n_types-1`` are the data's; ``n_types`` is the
    query step's.
    """

    def __init__(
        self,
        n_items: int,
        n_types: int,
        n_users: int,
        item_features: np.ndarray,
        item_slices: list[tuple[int, int]],
        user_slices: list[tuple[int, int]],
        value_stats: tuple[float, float],
        config: HRNNConfig,
    ) -> None:
        super().__init__()
        c = self.config = config
        self.n_items, self.n_types = n_items, n_types
        features = np.zeros((n_items + 1, item_features.shape[1]), np.float32)
        features[:n_items] = item_features
        self.item_features: torch.Tensor
        self.register_buffer("item_features", torch.from_numpy(features))
        self.value_mean, self.value_std = value_stats
        self.item_embed = torch.nn.Embedding(n_items + 1, c.item_dim)
        self.time_embed = torch.nn.Embedding(c.time_buckets, c.time_dim)
        self.type_embed = torch.nn.Embedding(n_types + 1, c.feedback_dim)
        self.item_meta = FieldMLP(item_slices, c.field_dim, c.meta_dim)
        self.user_meta = FieldMLP(user_slices, c.field_dim, c.user_dim)
        self.use_items = c.item_features and bool(item_slices)
        self.use_users = c.user_features and bool(user_slices)
        self.user_width = user_slices[-1][1] if user_slices else 0
        self.user_id = torch.nn.Embedding(n_users, c.user_id_dim) if c.user_id_dim else None
        if self.user_id is not None:
            torch.nn.init.normal_(self.user_id.weight, std=0.05)
        width = c.item_dim + (c.time_dim if c.time_delta else 0)
        width += c.feedback_dim + 1 if c.feedback else 0
        width += c.meta_dim if self.use_items else 0
        width += c.user_dim if self.use_users else 0
        width += c.user_id_dim
        self.gru = torch.nn.GRU(width, c.hidden, batch_first=True)
        self.drop = torch.nn.Dropout(c.dropout)
        self.out_w = torch.nn.Embedding(n_items, c.hidden)
        self.out_b = torch.nn.Parameter(torch.zeros(n_items))
        self.meta_out = FieldMLP(item_slices, c.field_dim, c.hidden + 1)
        torch.nn.init.normal_(self.item_embed.weight, std=0.05)
        torch.nn.init.normal_(self.out_w.weight, std=0.05)

    def step_inputs(
        self,
        items: torch.Tensor,
        delta: torch.Tensor,
        types: torch.Tensor,
        values: torch.Tensor,
        users: torch.Tensor,
        first: torch.Tensor,
    ) -> torch.Tensor:
        """(B, T, width) GRU inputs of events (B, T); ``first`` (B, T) bool marks
        events without a previous one (time bucket 0); ``users`` (B, U) features."""
        c = self.config
        parts = [self.item_embed(items)]
        if c.time_delta:
            bucket = torch.where(first, torch.zeros_like(items), time_bucket(delta, c.time_buckets))
            parts.append(self.time_embed(bucket))
        if c.feedback:
            value = (values - self.value_mean) / self.value_std
            value = torch.where(types == self.n_types, torch.zeros_like(value), value)
            parts += [self.type_embed(types), value[..., None]]
        if self.use_items:
            parts.append(self.item_meta(self.item_features[items]))
        if self.use_users:
            u = self.user_meta(users[:, : self.user_width])[:, None, :]
            parts.append(u.expand(-1, items.shape[1], -1))
        if self.user_id is not None:  # the learned user vector rides after the features
            parts.append(users[:, None, self.user_width :].expand(-1, items.shape[1], -1))
        return self.drop(torch.cat(parts, dim=-1))

    def readout(
        self, state: torch.Tensor, delta: torch.Tensor, users: torch.Tensor, first: torch.Tensor
    ) -> torch.Tensor:
        """(N, hidden) user vectors: one query step of the GRU from ``state`` (N, hidden)
        with the time ``delta`` (N,) since the last event (``first``: no last event)."""
        n = state.shape[0]
        query = torch.full((n, 1), self.n_items, dtype=torch.long, device=state.device)
        types = torch.full((n, 1), self.n_types, dtype=torch.long, device=state.device)
        x = self.step_inputs(
            query, delta[:, None], types, torch.zeros_like(delta)[:, None], users, first[:, None]
        )
        _, h = self.gru(x, state[None].contiguous())
        return h[0]

    def item_vectors(self, lam: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n_items, hidden) weights and (n_items,) biases of eq. 2 at this lambda."""
        if not self.config.metadata_decoder:
            return self.out_w.weight, self.out_b
        meta = self.meta_out(self.item_features[: self.n_items])
        col = torch.as_tensor(lam, dtype=meta.dtype).reshape(-1, 1)  # scalar or per item
        return (
            (1 - col) * self.out_w.weight + col * meta[:, :-1],
            ((1 - col) * self.out_b[:, None] + col * meta[:, -1:])[:, 0],
        )


class HRNNEncoder(torch.nn.Module):
    """ONNX-exportable one-pass user side: (items, mask, gap_seconds, event_types, values,
    user features, since_last) -> [u, 1]: the GRU over the history, then the query step."""

    def __init__(self, net: HRNNNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(
        self,
        items: torch.Tensor,
        mask: torch.Tensor,
        gap: torch.Tensor,
        types: torch.Tensor,
        values: torch.Tensor,
        user: torch.Tensor,
        since_last: torch.Tensor,
    ) -> torch.Tensor:
        count = mask.sum(1).long()
        position = torch.arange(items.shape[1], device=items.device)[None, :]
        x = self.net.step_inputs(items, gap, types, values, user, position == 0)
        out, _ = self.net.gru(x)
        last = (count - 1).clamp_min(0)[:, None, None].expand(-1, 1, out.shape[2])
        state = torch.gather(out, 1, last)[:, 0] * (count > 0).to(out.dtype)[:, None]
        u = self.net.readout(state, since_last, user, count == 0)
        return torch.cat([u, torch.ones_like(u[:, :1])], dim=1)


class HRNNStep(torch.nn.Module):
    """The ``step`` graph of a stateful bundle: one GRU step of eq. 1 per user,
    (state (B, H), item (B,), delta (B,) seconds since the user's previous event,
    first (B,) 1.0 when there was none, event type (B,), value (B,), user (B, U))
    -> the new state (B, H). Stepping a history event by event gives the state the
    one-pass encoder computes over the same events."""

    def __init__(self, net: HRNNNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(
        self,
        state: torch.Tensor,
        item: torch.Tensor,
        delta: torch.Tensor,
        first: torch.Tensor,
        event_type: torch.Tensor,
        value: torch.Tensor,
        user: torch.Tensor,
    ) -> torch.Tensor:
        x = self.net.step_inputs(
            item[:, None], delta[:, None], event_type[:, None], value[:, None], user,
            first[:, None] > 0.5,
        )  # fmt: skip
        _, h = self.net.gru(x, state[None].contiguous())
        return h[0]


class HRNNReadout(torch.nn.Module):
    """The ``readout`` graph: (state (B, H), since_last (B,) seconds from the last event
    to the query, user (B, U), empty (B,) 1.0 for a user without events) -> [u, 1]."""

    def __init__(self, net: HRNNNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, state: torch.Tensor, since_last: torch.Tensor, user: torch.Tensor,
        empty: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        u = self.net.readout(state, since_last, user, empty > 0.5)
        return torch.cat([u, torch.ones_like(u[:, :1])], dim=1)


class HRNNItemEncoder(torch.nn.Module):
    """The ``item_encoder`` graph: encoded item features (B, F) -> ``[w(f), b(f)]`` (B, H+1),
    the metadata decoder of eq. 2 at lambda = 1, in the layout of the served item
    vectors."""

    def __init__(self, net: HRNNNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net.meta_out(features)


@dataclass(frozen=True)
class _Windows:
    """Training windows of ``bptt`` positions: position k reads event s+k and predicts
    event s+k+1 (padded at the end, ``mask`` 1.0 on real positions)."""

    rows: np.ndarray  # (W,) user row
    index: np.ndarray  # (W, N) absolute event index of the input event
    mask: np.ndarray  # (W, N) bool

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def build(cls, seqs: Sequences, bptt: int) -> _Windows:
        n = seqs.lengths
        count = np.where(n >= 2, -(-(n - 1) // bptt), 0)
        rows = np.repeat(np.arange(len(seqs), dtype=np.int64), count)
        k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
        end = seqs.indptr[rows] + n[rows] - 1 - k * bptt  # absolute index of the last target
        start = np.maximum(end - bptt, seqs.indptr[rows])  # first input event
        offset = np.arange(bptt)[None, :]
        mask = offset < (end - start)[:, None]
        return cls(rows, np.where(mask, start[:, None] + offset, 0), mask)


@register("hrnn")
class HRNN(TorchRetrievalModel):
    config_type = HRNNConfig
    config: HRNNConfig

    # --- training ---------------------------------------------------------------------

    def plan(self, train: Interactions, device: torch.device) -> Plan:
        c = self.config
        self._setup(train)
        net = self._network()
        seqs = train.sequences()
        windows = _Windows.build(seqs, c.bptt)
        self._counts = np.bincount(train.item, minlength=train.n_items)
        self._user_counts = np.bincount(train.user, minlength=train.n_users)
        sampled = c.softmax == "sampled" or (
            c.softmax == "auto" and train.n_items > c.full_softmax_items
        )
        self._sampled = sampled
        sampler = AliasSampler(popularity_distribution(self._counts, c.sample_gamma))
        trends = DecayedCounter(train, c.trend_half_life_s) if c.trend else None
        log_q = torch.from_numpy(np.log(np.maximum(sampler.p, 1e-30)).astype(np.float32)).to(device)
        user_table = torch.from_numpy(self._user_table).to(device)
        item = seqs.item.astype(np.int64)
        time = seqs.timestamp.astype(np.float64)
        etype = seqs.event_type.astype(np.int64)
        value = seqs.value.astype(np.float32)

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(device)

        def step(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            rows_u = windows.rows[rows]
            index, mask = windows.index[rows], windows.mask[rows]
            first = np.zeros_like(mask)
            first[:, 0] = index[:, 0] == seqs.indptr[rows_u]
            prev = np.maximum(index - 1, 0)
            delta = (time[index] - time[prev]).astype(np.float32)
            target = index + 1
            users = user_table[tensor(rows_u)]
            if net.user_id is not None:
                users = torch.cat([users, net.user_id(tensor(rows_u))], 1)
            x = net.step_inputs(
                tensor(item[index]),
                tensor(delta),
                tensor(etype[index]),
                tensor(value[index]),
                users,
                tensor(first),
            )
            out, _ = net.gru(x)
            flat = tensor(mask)
            states = out[flat]
            gap = (time[target] - time[index]).astype(np.float32)[mask]
            row_of = np.repeat(np.arange(len(rows)), mask.sum(1))
            u = net.drop(
                net.readout(
                    states,
                    tensor(gap),
                    users[tensor(row_of)],
                    torch.zeros(len(gap), dtype=torch.bool, device=device),
                )
            )
            y = tensor(item[target][mask])
            lam = (
                torch.rand(len(u), 1, device=device)
                if c.metadata_decoder
                else torch.zeros(len(u), 1, device=device)
            )
            meta = net.meta_out(net.item_features[: net.n_items]) if c.metadata_decoder else None
            now = time[target][mask]
            seen = self._seen(item[index], mask, rows_u, device) if c.exclude_seen else None
            if sampled:
                negatives = sampler.sample(rng, c.negatives)
                shared = tensor(negatives.astype(np.int64))
                logits = self._logits(net, u, lam, meta, y, shared)
                correction = torch.cat(
                    [log_q[y][:, None], log_q[shared][None, :].expand(len(y), -1)], 1
                )
                hit = torch.cat(
                    [torch.zeros_like(y[:, None], dtype=torch.bool), shared[None, :] == y[:, None]],
                    1,
                )
                if seen is not None:
                    first, window, position = seen
                    hit[:, 1:] |= first[:, shared][window] <= position[:, None]
                logits = (logits - correction).masked_fill(hit, -1e9)
                if c.trend:
                    cols = np.concatenate(
                        [
                            item[target][mask][:, None],
                            np.broadcast_to(negatives, (len(now), len(negatives))),
                        ],
                        1,
                    )
                    logits = logits + tensor(self._trend(trends, now, cols))
                return torch.nn.functional.cross_entropy(
                    logits, torch.zeros(len(y), dtype=torch.long, device=device)
                )
            logits = self._logits(net, u, lam, meta, None)
            if seen is not None:
                first, window, position = seen
                earlier = first[window] <= position[:, None]
                earlier[torch.arange(len(y), device=device), y] = False
                logits = logits.masked_fill(earlier, -1e9)
            if c.trend:
                logits = logits + tensor(self._trend(trends, now, None))
            return torch.nn.functional.cross_entropy(logits, y)

        return Plan(net, len(windows), step)

    def _seen(
        self, items: np.ndarray, mask: np.ndarray, rows: np.ndarray, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, n_items) the position where each window first read each item (large if
        never), and for each real position p (P,) its window and its position: item j is
        already seen at p when first[window[p], j] <= position[p]."""
        b, n = items.shape
        first = np.full((b, self.n_items), np.iinfo(np.int32).max, np.int32)
        position = np.broadcast_to(np.arange(n, dtype=np.int32), (b, n))
        w, k = np.nonzero(mask)
        # reversed so that the earliest position of a repeated item is written last
        first[w[::-1], items[w, k][::-1]] = position[w, k][::-1]
        return (
            torch.from_numpy(first).to(device),
            torch.from_numpy(w).to(device),
            torch.from_numpy(np.ascontiguousarray(position[w, k])).to(device),
        )

    @staticmethod
    def _logits(
        net: HRNNNetwork,
        u: torch.Tensor,
        lam: torch.Tensor,
        meta: torch.Tensor | None,
        targets: torch.Tensor | None,
        shared: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Eq. 2 scores as one product, [(1-l) u, l u, 1-l, l] . [w_j, w(f_j), b_j, b(f_j)]:
        of every item (``targets`` None), or (P, 1 + S) of each row's target and the
        ``shared`` sampled items."""
        ones = torch.ones_like(u[:, :1])
        if meta is None:
            query = torch.cat([u, ones], 1)
        else:
            query = torch.cat([(1 - lam) * u, lam * u, 1 - lam, lam], 1)

        def keys(items: torch.Tensor | None) -> torch.Tensor:
            w = net.out_w.weight if items is None else net.out_w(items)
            b = (net.out_b if items is None else net.out_b[items])[:, None]
            if meta is None:
                return torch.cat([w, b], 1)
            m = meta if items is None else meta[items]
            return torch.cat([w, m[:, :-1], b, m[:, -1:]], 1)

        if targets is None:
            return query @ keys(None).T
        assert shared is not None
        positive = (query * keys(targets)).sum(1, keepdim=True)
        return torch.cat([positive, query @ keys(shared).T], 1)

    def _trend(
        self, trends: DecayedCounter | None, now: np.ndarray, cols: np.ndarray | None
    ) -> np.ndarray:
        """log(alpha + decayed count) of each candidate item just before each position."""
        assert trends is not None
        return np.log(self.config.trend_alpha + trends.at(now, cols)).astype(np.float32)

    def _setup(self, train: Interactions) -> None:
        """Feature schemas, tables and value statistics from the training data."""
        self.n_items = train.n_items
        self._n_types = len(train.event_types)
        self._item_schema = FeatureSchema.fit(train.item_features)
        self._user_schema = FeatureSchema.fit(train.user_features)
        self._item_table = self._item_schema.encode(train.item_features, train.n_items)
        self._user_table = self._user_schema.encode(train.user_features, train.n_users)
        value = train.value.astype(np.float64)
        self._value_stats = (float(value.mean()), float(value.std()) or 1.0)

    def _network(self) -> HRNNNetwork:
        return HRNNNetwork(
            self.n_items,
            self._n_types,
            len(self._user_table),
            self._item_table,
            self._item_schema.slices,
            self._user_schema.slices,
            self._value_stats,
            self.config,
        )

    def freeze(self, module: torch.nn.Module) -> None:
        assert isinstance(module, HRNNNetwork)
        net = copy.deepcopy(module).to("cpu").eval()
        self._net = net
        self._module = HRNNEncoder(net).eval()
        self._users = self._user_table
        if net.user_id is not None:  # users without training events keep a zero vector
            trained = np.asarray(getattr(self, "_user_counts", np.ones(len(self._user_table)))) > 0
            ids = to_numpy(net.user_id.weight) * trained[:, None]
            self._users = np.concatenate([self._user_table, ids], axis=1)
        cold = np.asarray(getattr(self, "_counts", np.ones(self.n_items))) == 0
        with torch.no_grad():
            lam = torch.full((self.n_items, 1), self.config.serve_lambda)
            lam[torch.from_numpy(cold)] = 1.0
            w, b = net.item_vectors(lam)
        self._items = np.concatenate([to_numpy(w), to_numpy(b)[:, None]], axis=1)

    # --- serving side -------------------------------------------------------------------

    def encoder_spec(self) -> EncoderSpec:
        return EncoderSpec(
            inputs=(
                InputSpec("items", "item_rows"),
                InputSpec("mask", "mask"),
                InputSpec("gap", "gap_seconds"),
                InputSpec("types", "event_types"),
                InputSpec("values", "values"),
                InputSpec("user", "user_vector"),
                InputSpec("since_last", "seconds_since_last"),
            ),
            outputs=(OutputSpec("query", "user_vector", self.config.hidden + 1),),
            history=HistoryPolicy(max_length=self.config.history),
        )

    def export_encoder(self) -> torch.nn.Module:
        return self._module

    def stateful(self) -> StatefulModules:
        """The ``step`` and ``readout`` graphs (ARCHITECTURE.md: RecordEvents advances the
        state, Recommend runs only the readout)."""
        return StatefulModules(
            state_dim=self.config.hidden,
            step=HRNNStep(self._net).eval(),
            step_inputs=(
                ("state", "state"),
                ("item", "item_row"),
                ("delta", "delta_seconds"),
                ("first", "first"),
                ("event_type", "event_type"),
                ("value", "value"),
                ("user", "user_vector"),
            ),
            readout=HRNNReadout(self._net).eval(),
            readout_inputs=(
                ("state", "state"),
                ("since_last", "seconds_since_last"),
                ("user", "user_vector"),
                ("empty", "empty"),
            ),
            readout_edges=time_edges(self.config.time_buckets) if self.config.time_delta else (),
        )

    def item_vectors(self) -> np.ndarray:
        return self._items

    def item_encoder(self) -> ItemEncoderModule | None:
        """With the metadata decoder on and item features to read: items registered
        while serving get ``[w(f), b(f)]``, what an item without training events gets."""
        if not self.config.metadata_decoder or self._item_schema.width == 0:
            return None
        trained = np.asarray(getattr(self, "_counts", np.ones(self.n_items))) > 0
        return ItemEncoderModule(HRNNItemEncoder(self._net).eval(), self._item_schema.to_dict(),
                                 self._item_table, trained)  # fmt: skip

    def user_table(self) -> tuple[np.ndarray, np.ndarray]:
        return self._users, np.ones(len(self._users), dtype=bool)

    def user_fallback(self) -> str:
        return "zero user features"

    def semantics(self) -> tuple[ColdStart, ItemQuery]:
        """Cold start: the readout of the empty state (no history, no user features), so
        items rank by <u_0, w_j> + b_j. Similar items: <w_i, w_j>, the bias zeroed."""
        h = self.config.hidden
        with torch.no_grad():
            user = torch.zeros(1, self._users.shape[1])
            u = self._net.readout(
                torch.zeros(1, h), torch.zeros(1), user, torch.ones(1, dtype=torch.bool)
            )
        cold = (*(float(v) for v in u[0].tolist()), 1.0)
        return ColdStart("query", cold), ItemQuery((QueryBlock(h, 1.0), QueryBlock(1, 0.0)))

    def state(self) -> dict[str, np.ndarray]:
        net = {
            f"net.{k}": v.detach().cpu().numpy().copy() for k, v in self._net.state_dict().items()
        }
        schemas = {
            "item": self._item_schema.to_dict(),
            "user": self._user_schema.to_dict(),
            "value_stats": list(self._value_stats),
            "n_types": self._n_types,
        }
        return {
            "item_table": self._item_table,
            "user_table": self._user_table,
            "counts": np.asarray(self._counts, np.int64),
            "user_counts": np.asarray(self._user_counts, np.int64),
            "schemas": np.frombuffer(json.dumps(schemas).encode(), dtype=np.uint8).copy(),
            **net,
        }

    @classmethod
    def from_state(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> HRNN:
        model = cls(**config)
        schemas = json.loads(bytes(np.asarray(arrays["schemas"], np.uint8)).decode())
        model._item_schema = FeatureSchema.from_dict(schemas["item"])
        model._user_schema = FeatureSchema.from_dict(schemas["user"])
        model._value_stats = tuple(schemas["value_stats"])
        model._n_types = int(schemas["n_types"])
        model._item_table = np.asarray(arrays["item_table"], np.float32)
        model._user_table = np.asarray(arrays["user_table"], np.float32)
        model._counts = np.asarray(arrays["counts"], np.int64)
        model._user_counts = np.asarray(arrays["user_counts"], np.int64)
        model.n_items = len(model._counts)
        net = model._network()
        net.load_state_dict(
            {
                k[4:]: torch.from_numpy(np.asarray(v))
                for k, v in arrays.items()
                if k.startswith("net.")
            }
        )
        model.freeze(net)
        return model
