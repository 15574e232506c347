"""The do-nothing server the serving benchmark compares against: it must start and
answer every RPC of the service, or the benchmark has no reference."""

from __future__ import annotations

import grpc
from recserve_client.rpc import recommender_pb2 as pb
from recserve_client.rpc import recommender_pb2_grpc as rpc

from loadtest.null_server import NullServicer
from service.grpc_server import GrpcServer
from tests.conftest import free_port


def test_the_null_server_answers_every_rpc_of_the_service():
    methods = pb.DESCRIPTOR.services_by_name["Recommender"].methods
    port = free_port()
    server = GrpcServer(NullServicer(), f"127.0.0.1:{port}")  # type: ignore[arg-type]
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = rpc.RecommenderStub(channel)
            for method in methods:
                request = getattr(pb, method.input_type.name)()
                reply = getattr(stub, method.name)(request, timeout=10)
                assert type(reply).__name__ == method.output_type.name
    finally:
        server.stop(1.0)
