"""Typed server settings, validated at start-up (pydantic-settings).

Every field can be set by flag (``recserve serve --grpc-port ...``) or by
environment variable ``RECSERVE_<FIELD>`` (e.g. ``RECSERVE_STORE=redis://...``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECSERVE_", extra="forbid")

    bundle: str = Field(description="bundles/<name>/<version>, or bundles/<name>/ for the newest")
    store: str = Field(
        "file://./var/recserve",
        description="memory:// | file://PATH (embedded, survives restarts) | redis://HOST:PORT "
        "| redis+cluster://HOST:PORT",
    )
    store_fsync: Literal["batch", "always"] = Field(
        "batch",
        description="file:// store: what an acknowledgement means. batch: written to the OS "
        "(survives a killed server), fsync once a second; always: fsync before every "
        "acknowledgement (survives a power loss, slower)",
    )
    store_timeout_s: float = Field(
        0.5,
        gt=0,
        le=30,
        description="Redis store: connect and command timeout; a call past it fails with "
        "UNAVAILABLE / 503 instead of waiting",
    )
    ready_max_trend_age_s: float = Field(
        30.0, gt=0, description="/readyz turns 503 when the last good trend refresh is older"
    )
    host: str = "127.0.0.1"
    admin_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="serve /admin on its own listener (admin_host:admin_port) instead of "
        "the public HTTP port",
    )
    admin_host: str = Field("127.0.0.1", description="interface of the admin listener")
    grpc_port: int = Field(50051, ge=0, le=65535)
    http_port: int = Field(8000, ge=0, le=65535)

    max_history: int = Field(200, ge=1, le=10_000, description="events kept per user")
    max_k: int = Field(100, ge=1, le=10_000)
    max_events_per_call: int = Field(1000, ge=1, le=100_000)
    max_id_length: int = Field(256, ge=1, le=4096)
    max_body_bytes: int = Field(
        1 << 20, ge=1024, description="HTTP request body limit; larger bodies get 413 unread"
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="HTTP: a request's line and headers must arrive within this (from the "
        "connection or the request's first byte); else 408 and the connection is closed",
    )
    body_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="HTTP: a request's body must arrive within this once its headers have; "
        "else 408 and the connection is closed",
    )
    rate_limit_per_s: float = Field(
        0.0, ge=0, description="requests/s per client (token bucket; 429 beyond); 0: off"
    )
    rate_limit_burst: float = Field(
        0.0, ge=0, description="bucket size of the rate limit; 0: one second's worth"
    )
    event_types: tuple[str, ...] = Field(
        ("view", "click", "add_to_cart", "purchase", "rating"),
        description="event types accepted besides the serving bundle's own (env: a JSON "
        "list); the store keeps them whatever the model, which encodes a type it was not "
        "trained on as its default type",
    )
    max_future_seconds: float = Field(300.0, ge=0, description="how far ahead a timestamp may be")

    overfetch: int = Field(4, ge=1, le=100, description="HNSW candidates = k * overfetch")
    trend_candidates: int = Field(50, ge=0, le=10_000, description="top trending items added")
    trend_beta: float | None = Field(
        None,
        ge=0,
        description="score += beta * log(decayed count + alpha); default: the bundle's "
        "calibrated beta (on that model's score scale)",
    )
    trend_alpha: float | None = Field(
        None, gt=0, description="pseudo-count smoothing of the trend share; default: the bundle's"
    )
    trend_half_life_s: float = Field(3600.0, gt=0)
    rerank_n: int | None = Field(
        None,
        ge=0,
        le=10_000,
        description="candidates a bundle's re-ranker re-scores (0: off); default: the "
        "bundle's own; a request may ask for up to max_rerank_n",
    )
    explain_items: int = Field(5, ge=1, le=100, description="history items per explanation")
    max_rerank_n: int = Field(1000, ge=0, le=10_000, description="most candidates re-ranked")
    rerank_budget_ms: float = Field(
        50.0,
        gt=0,
        description="a re-ranking that takes longer is not used: the retrieval order answers "
        "(counted in recserve_rerank_total{outcome=over_budget})",
    )
    trend_refresh_s: float = Field(0.25, gt=0, description="how often the trend snapshot refreshes")
    live_items_refresh_s: float = Field(
        0.25, gt=0, description="how often a replica polls the store for PutItems registrations"
    )
    max_live_items: int = Field(
        10_000, ge=0, description="registered items a bundle serves beside its own (exact search)"
    )

    watch_bundles_s: float = Field(0.0, ge=0, description="poll for newer versions (0: off)")
    prefer_gpu: bool = True
    encoder_threads: int = Field(1, ge=1, le=64)
    user_cache_mb: float = Field(
        256.0,
        ge=0,
        description="memory for encoded users (one entry per user serving every k, its "
        "arrays counted), least recently used out first; 0: no cache",
    )

    tokens_file: str | None = Field(
        None,
        description="bearer tokens with scopes (service/auth.py); without it the API is open "
        "and the server binds loopback only",
    )
    insecure: bool = Field(
        False, description="allow binding a non-loopback host without a tokens file"
    )

    tls_cert: str | None = Field(None, description="PEM certificate: serve gRPC and HTTP over TLS")
    tls_key: str | None = Field(None, description="PEM private key of tls_cert")
    tls_client_ca: str | None = Field(
        None, description="PEM CA bundle: require client certificates it signed (mutual TLS)"
    )

    @model_validator(mode="after")
    def _tls_files(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key: give both or neither")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca: mutual TLS needs tls_cert and tls_key too")
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: no such file {path}")
        return self

    @model_validator(mode="after")
    def _safe_by_default(self) -> Settings:
        hosts = [("host", self.host)]
        if self.admin_port is not None:
            hosts.append(("admin_host", self.admin_host))
        for field, host in hosts:
            if self.tokens_file is None and not self.insecure and not is_loopback(host):
                raise ValueError(
                    f"{field}: {host} is not loopback and no tokens file is set, so anyone who "
                    "can reach the ports could read and write every user's history; give "
                    "--tokens-file (recserve token new ...), or --insecure to serve it open anyway"
                )
        return self

    @field_validator("store")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        schemes = ("memory://", "file://", "redis://", "redis+cluster://")
        if value == "memory":
            return "memory://"
        if not value.startswith(schemes):
            raise ValueError(f"store must start with one of {', '.join(schemes)}")
        return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
