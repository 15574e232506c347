"""Typed server settings, validated at start-up (pydantic-settings).

Every field can be set by flag (``recserve serve --grpc-port ...``) or by
environment variable ``RECSERVE_<FIELD>`` (e.g. ``RECSERVE_STORE=redis://...``).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECSERVE_", extra="forbid")

    bundle: str = Field(description="bundles/<name>/<version>, or bundles/<name>/ for the newest")
    store: str = Field(
        "file://./var/recserve",
        description="memory:// | file://PATH (embedded, survives restarts) | redis://HOST:PORT "
        "| redis+cluster://HOST:PORT",
    )
    host: str = "127.0.0.1"
    grpc_port: int = Field(50051, ge=0, le=65535)
    http_port: int = Field(8000, ge=0, le=65535)

    max_history: int = Field(200, ge=1, le=10_000, description="events kept per user")
    max_k: int = Field(100, ge=1, le=10_000)
    max_events_per_call: int = Field(1000, ge=1, le=100_000)
    max_id_length: int = Field(256, ge=1, le=4096)
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
    trend_refresh_s: float = Field(0.25, gt=0, description="how often the trend snapshot refreshes")

    watch_bundles_s: float = Field(0.0, ge=0, description="poll for newer versions (0: off)")
    prefer_gpu: bool = True
    encoder_threads: int = Field(1, ge=1, le=64)
    user_cache_size: int = Field(100_000, ge=0, description="encoded users kept (0: no cache)")

    @field_validator("store")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        schemes = ("memory://", "file://", "redis://", "redis+cluster://")
        if value == "memory":
            return "memory://"
        if not value.startswith(schemes):
            raise ValueError(f"store must start with one of {', '.join(schemes)}")
        return value
