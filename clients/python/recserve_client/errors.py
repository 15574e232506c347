"""The one exception a call raises."""

from __future__ import annotations

import grpc


class RecserveError(Exception):
    """A call failed: ``code`` is the gRPC status, ``details`` the server's message
    (an ``INVALID_ARGUMENT`` names the field), ``attempts`` how many were made."""

    def __init__(self, code: grpc.StatusCode, details: str, attempts: int = 1) -> None:
        super().__init__(
            f"{code.name}: {details}" + (f" (after {attempts} attempts)" if attempts > 1 else "")
        )
        self.code = code
        self.details = details
        self.attempts = attempts

    @classmethod
    def from_rpc(cls, error: grpc.RpcError, attempts: int) -> RecserveError:
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        return cls(code, details or "", attempts)
