"""TLS and mutual TLS on both ports, with a throwaway CA made at test time."""

from __future__ import annotations

import datetime
import ssl

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(subject, key, issuer, issuer_key, ca: bool, server: bool = False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        import ipaddress

        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder, name: str, cert, key) -> tuple[str, str]:
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1, a client it signed, a rogue client."""
    folder = tmp_path_factory.mktemp("pki")
    out = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, "test CA", ca_key, ca=True)
    out["ca"] = _write(folder, "ca", ca, ca_key)[0]
    for name, server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        out[name] = _write(
            folder, name, _certificate(name, key, "test CA", ca_key, False, server), key
        )
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _certificate("rogue", rogue_key, "rogue", rogue_key, ca=True)
    out["rogue"] = _write(folder, "rogue", rogue, rogue_key)
    return out


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _grpc_call(server, pki, client: str | None):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(pki["ca"]),
        private_key=_read(pki[client][1]) if client else None,
        certificate_chain=_read(pki[client][0]) if client else None,
    )
    with grpc.secure_channel(f"127.0.0.1:{server.grpc_port}", credentials) as channel:
        reply = rpc.RecommenderStub(channel).GetTrending(pb.GetTrendingRequest(k=3), timeout=5)
        return reply


def _https(server, pki, client: str | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=pki["ca"])
    if client:
        context.load_cert_chain(*pki[client])
    return httpx.Client(base_url=f"https://127.0.0.1:{server.http_port}", verify=context, timeout=5)


def test_both_ports_serve_tls_and_refuse_plaintext(start_server, pki):
    server = start_server(tls_cert=pki["server"][0], tls_key=pki["server"][1])
    assert _grpc_call(server, pki, None) is not None
    with _https(server, pki, None) as http:
        assert http.get("/healthz").json() == {"status": "alive"}
    plain = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    with plain as channel, pytest.raises(grpc.RpcError):
        rpc.RecommenderStub(channel).GetTrending(pb.GetTrendingRequest(k=3), timeout=3)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{server.http_port}/healthz", timeout=3).raise_for_status()


def test_mutual_tls_refuses_clients_without_a_certificate_of_the_ca(start_server, pki):
    server = start_server(
        tls_cert=pki["server"][0], tls_key=pki["server"][1], tls_client_ca=pki["ca"]
    )
    assert _grpc_call(server, pki, "client") is not None
    with _https(server, pki, "client") as http:
        assert http.get("/healthz").status_code == 200
    for client in (None, "rogue"):
        with pytest.raises(grpc.RpcError) as refused:
            _grpc_call(server, pki, client)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises((httpx.HTTPError, ssl.SSLError)), _https(server, pki, client) as http:
            http.get("/healthz")


def test_tls_settings_are_checked_at_start_up(tmp_path, pki):
    from pydantic import ValidationError

    from service.settings import Settings

    with pytest.raises(ValidationError, match="give both or neither"):
        Settings(bundle="b", tls_cert=pki["server"][0])
    with pytest.raises(ValidationError, match="mutual TLS needs tls_cert"):
        Settings(bundle="b", tls_client_ca=pki["ca"])
    with pytest.raises(ValidationError, match="tls_key: no such file"):
        Settings(bundle="b", tls_cert=pki["server"][0], tls_key=str(tmp_path / "nope"))
