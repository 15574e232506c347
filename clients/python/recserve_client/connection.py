"""How a client reaches the server: target, TLS, bearer token, default deadline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import grpc

from recserve_client.retry import RetryPolicy
from recserve_client.rpc import recommender_pb2_grpc as rpc


@dataclass(frozen=True)
class Connection:
    """``target`` is ``host:port``. ``tls``: False (plaintext), True (system CA
    roots) or the path of a PEM CA bundle. ``token``: sent as ``authorization:
    Bearer <token>`` (the server's tokens file decides its scopes). ``timeout``:
    the default deadline of a call in seconds, retries included."""

    target: str
    tls: bool | str | Path = False
    token: str | None = None
    timeout: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if not self.target or ":" not in self.target:
            raise ValueError(f"target must be host:port, got {self.target!r}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")

    def credentials(self) -> grpc.ChannelCredentials | None:
        """None for plaintext."""
        if self.tls is False:
            return None
        roots = None if self.tls is True else Path(self.tls).read_bytes()
        return grpc.ssl_channel_credentials(root_certificates=roots)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


class Endpoint:
    """What ``Client`` and ``AsyncClient`` share: the connection settings, one channel
    (from ``channels``: ``grpc`` or ``grpc.aio``, which open channels alike) and
    the stub on it."""

    channels: ClassVar[ModuleType] = grpc

    def __init__(
        self,
        target: str,
        *,
        tls: bool | str | Path = False,
        token: str | None = None,
        timeout: float = 1.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection = Connection(target, tls, token, timeout, retry or RetryPolicy())
        credentials = self.connection.credentials()
        self._channel: Any = (
            self.channels.insecure_channel(target)
            if credentials is None
            else self.channels.secure_channel(target, credentials)
        )
        self._stub = rpc.RecommenderStub(self._channel)
