"""Slow HTTP clients (slowloris, trickled bodies) are cut off at a deadline, others are not."""

from __future__ import annotations

import socket
import time

import httpx
import pytest


@pytest.fixture()
def quick(start_server):
    return start_server(header_timeout_s=0.6, body_timeout_s=0.6)


def _connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=5)
    sock.settimeout(5)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _timeouts(server, phase: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{server.http_port}/metrics").text
    line = f'recserve_http_timeouts_total{{phase="{phase}"}}'
    values = [float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)]
    return values[0] if values else 0.0


def test_a_client_trickling_its_headers_gets_408_at_the_header_deadline(quick):
    sock = _connect(quick)
    start = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    for _ in range(20):  # one header byte every 0.1 s would hold it for ever without a deadline
        try:
            sock.sendall(b"X")
        except OSError:
            break
        time.sleep(0.1)
    reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408") and b"request headers not received" in reply
    assert time.monotonic() - start < 3
    assert _timeouts(quick, "headers") == 1


def test_a_connection_that_sends_nothing_is_closed(quick):
    sock = _connect(quick)
    start = time.monotonic()
    assert _read_all(sock).startswith(b"HTTP/1.1 408")
    assert time.monotonic() - start < 3


def test_a_trickled_body_gets_408_at_the_body_deadline_and_others_are_served(quick):
    sock = _connect(quick)
    sock.sendall(
        b"POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b'content-length: 1000\r\n\r\n{"events": ['
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{quick.http_port}") as other:
        assert other.get("/healthz").status_code == 200  # not held up by the slow one
    start = time.monotonic()
    reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408") and b"request body not received" in reply
    assert time.monotonic() - start < 3
    assert _timeouts(quick, "body") == 1


def test_kept_alive_connections_are_timed_per_request_not_per_connection(quick):
    with httpx.Client(base_url=f"http://127.0.0.1:{quick.http_port}") as client:
        for _ in range(3):  # idle gaps longer than header_timeout_s between requests
            body = {"events": [{"user_id": "u1", "item_id": "item-00001"}]}
            assert client.post("/v1/events", json=body).json()["accepted"] == 1
            time.sleep(0.8)
    assert _timeouts(quick, "headers") == 0 and _timeouts(quick, "body") == 0
