import socket
import subprocess
import sys

import pytest

from service.app import listen_socket


def test_http_connections_are_accepted_with_nagle_off():
    # With Nagle on, uvicorn's header and body writes cost every keep-alive
    # response a ~40 ms delayed-ACK stall.
    server = listen_socket("127.0.0.1", 0)
    server.listen()
    with server, socket.create_connection(server.getsockname()) as client:
        accepted, _ = server.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert accepted.proto == socket.IPPROTO_TCP  # what asyncio checks
        client.close()


@pytest.mark.parametrize("taken", ["grpc_port", "http_port"])
def test_serve_names_the_port_that_is_in_use(led_bundle, taken):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        ports = {"grpc_port": 0, "http_port": 0, taken: holder.getsockname()[1]}
        done = subprocess.run(
            [sys.executable, "-m", "service", "--bundle", str(led_bundle), "--store", "memory",
             "--grpc-port", str(ports["grpc_port"]), "--http-port", str(ports["http_port"])],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"{taken}: cannot bind" in done.stderr
    assert "Traceback" not in done.stderr
