"""Limits applied before any work: the request body size (413 before parsing), and
request paths that are not valid UTF-8 once percent-decoded (422, never replaced
by U+FFFD, so two different raw ids can never collide).

A pure ASGI middleware: a ``Content-Length`` above the limit is answered at
once; a body streamed without one is counted as it arrives and cut at the
limit (the app sees an end of body, and its answer is replaced by the 413).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

Scope = dict[str, Any]


async def _answer(send: Any, status: int, detail: Any) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Limits:
    def __init__(self, app: Any, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            unquote_to_bytes(scope.get("raw_path") or b"").decode("utf-8")
        except UnicodeDecodeError:
            loc = {"loc": ["path"], "msg": "not valid UTF-8 once percent-decoded",
                   "type": "value_error"}  # fmt: skip
            await _answer(send, 422, [loc])
            return
        limit = self.max_body
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        too_large = f"request body over {limit} bytes"
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _answer(send, 413, too_large)
            return
        received, over, answered = 0, False, False

        async def counted() -> Any:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # hand the app an end of body; its answer is replaced
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def watched(message: Any) -> None:
            nonlocal answered
            if not over:
                await send(message)
            elif not answered:
                answered = True
                await _answer(send, 413, too_large)

        await self.app(scope, counted, watched)
