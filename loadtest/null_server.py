"""A do-nothing ``recserve.v1.Recommender`` server: the transport's own cost.

It answers Recommend with a fixed 10-item reply straight away, on the very
same gRPC server as recserve (``service.grpc_server.GrpcServer``: grpc.aio,
same options, health and reflection), so the load generator measures what
the gRPC transport alone costs on this machine, in the same run.

    python -m loadtest.null_server --port 50100
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from recserve_client.rpc import recommender_pb2 as pb

from service.grpc_server import GrpcServer

REPLY = pb.RecommendResponse(
    items=[pb.ScoredItem(item_id=f"item-{k:06d}", score=1.0 / (k + 1)) for k in range(10)],
    model_version="null/0",
    personalized=True,
)


class NullServicer:
    """Answers every RPC with a constant, ignoring the request."""

    async def Recommend(self, request: Any, context: Any) -> Any:
        return REPLY

    async def RecordEvents(self, request: Any, context: Any) -> Any:
        return pb.RecordEventsResponse(accepted=len(request.events))

    async def GetUserHistory(self, request: Any, context: Any) -> Any:
        return pb.GetUserHistoryResponse()

    async def SimilarItems(self, request: Any, context: Any) -> Any:
        return pb.SimilarItemsResponse()

    async def GetTrending(self, request: Any, context: Any) -> Any:
        return pb.GetTrendingResponse()

    async def PutItems(self, request: Any, context: Any) -> Any:
        return pb.PutItemsResponse(stored=len(request.items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = GrpcServer(NullServicer(), f"127.0.0.1:{args.port}")  # type: ignore[arg-type]
    server.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(1.0)


if __name__ == "__main__":
    main()
