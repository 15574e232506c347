"""The gRPC server: our servicer plus standard health checking and reflection."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.api.grpc_servicer import MALFORMED, RecommenderServicer
from service.rpc import recommender_pb2

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
            response_serializer=response_type.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


def build_grpc_server(
    servicer: RecommenderServicer, address: str, workers: int
) -> tuple[grpc.Server, int, health.HealthServicer]:
    """A started-but-not-serving gRPC server bound to ``address``; returns its port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
            ("grpc.so_reuseport", 0),
        ],
    )
    server.add_generic_rpc_handlers((recommender_handler(servicer),))
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)
    reflection.enable_server_reflection((*names, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot bind gRPC to {address}")
    return server, port, health_servicer


def set_serving(health_servicer: health.HealthServicer, serving: bool) -> None:
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, status)
