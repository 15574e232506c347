"""The gRPC server (grpc.aio): our servicer, standard health checking, reflection.

It runs its own asyncio event loop in a background thread, so the process can
also run the HTTP server, and is stopped gracefully from any thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection
from recserve_client.rpc import recommender_pb2

from service.api.grpc_servicer import MALFORMED, RecommenderServicer
from service.tls import TlsFiles

SERVICE_NAME = recommender_pb2.DESCRIPTOR.services_by_name["Recommender"].full_name
MAX_MESSAGE = 16 * 1024 * 1024


def _lenient(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """A deserializer that turns undecodable bytes into ``MALFORMED`` instead of
    gRPC's generic INTERNAL error; the servicer answers INVALID_ARGUMENT."""

    def parse_or_flag(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError:
            return MALFORMED

    return parse_or_flag


def _serializer(serialize: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    """A serializer that passes replies already written as bytes through
    (``service.api.grpc_wire``) and serializes messages."""

    def as_bytes(reply: Any) -> bytes:
        return reply if type(reply) is bytes else serialize(reply)

    return as_bytes


def recommender_handler(servicer: RecommenderServicer) -> grpc.GenericRpcHandler:
    """Method handlers for every RPC of the proto's ``Recommender`` service."""
    service = recommender_pb2.DESCRIPTOR.services_by_name["Recommender"]
    handlers = {}
    for method in service.methods:
        request_type = getattr(recommender_pb2, method.input_type.name)
        response_type = getattr(recommender_pb2, method.output_type.name)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=_lenient(request_type.FromString),
            response_serializer=_serializer(response_type.SerializeToString),
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


class GrpcServer:
    """grpc.aio server on a private event loop thread."""

    def __init__(
        self, servicer: RecommenderServicer, address: str, tls: TlsFiles | None = None
    ) -> None:
        self.servicer = servicer
        self.address = address
        self.tls = tls
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._server: grpc.aio.Server | None = None
        self._health = health_aio.HealthServicer()
        self._thread = threading.Thread(target=self.loop.run_forever, name="grpc", daemon=True)

    async def _start(self) -> int:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
                ("grpc.so_reuseport", 0),
            ]
        )
        server.add_generic_rpc_handlers((recommender_handler(self.servicer),))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
        reflection.enable_server_reflection((*names, reflection.SERVICE_NAME), server)
        try:
            if self.tls is None:
                port = server.add_insecure_port(self.address)
            else:
                port = server.add_secure_port(self.address, self.tls.grpc_credentials())
        except RuntimeError:  # grpcio >= 1.60 raises instead of returning 0
            port = 0
        if port == 0:
            raise OSError(f"grpc_port: cannot bind gRPC to {self.address} (port in use?)")
        await server.start()
        self._server = server
        return port

    def start(self) -> int:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)
        self.set_serving(True)
        return self.port

    def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )

        async def apply() -> None:
            for name in ("", SERVICE_NAME):
                await self._health.set(name, status)

        asyncio.run_coroutine_threadsafe(apply(), self.loop).result(timeout=5)

    def stop(self, grace: float) -> None:
        """Refuse new calls, let calls in flight finish (up to ``grace`` s), then stop."""
        if self._server is None:
            return
        self.set_serving(False)
        stop = asyncio.run_coroutine_threadsafe(self._server.stop(grace), self.loop)
        stop.result(timeout=grace + 5)
        asyncio.run_coroutine_threadsafe(self._cancel_tasks(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()

    async def _cancel_tasks(self) -> None:
        """Cancel what is left on the loop so nothing dangles."""
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
