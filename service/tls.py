"""TLS for both front doors from one set of PEM files (``--tls-cert/--tls-key``), and
mutual TLS when ``--tls-client-ca`` is given: clients must present a certificate
that CA signed, on gRPC and on HTTP alike."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.settings import Settings


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path | None = None

    @classmethod
    def of(cls, settings: Settings) -> TlsFiles | None:
        if settings.tls_cert is None or settings.tls_key is None:
            return None
        ca = Path(settings.tls_client_ca) if settings.tls_client_ca else None
        return cls(Path(settings.tls_cert), Path(settings.tls_key), ca)

    def grpc_credentials(self) -> Any:
        import grpc

        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.client_ca.read_bytes() if self.client_ca else None,
            require_client_auth=self.client_ca is not None,
        )

    def uvicorn_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}
        if self.client_ca is not None:
            options |= {"ssl_ca_certs": str(self.client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
        return options
