"""JSON request bodies parsed off the event loop, with FastAPI's own rules and errors.

FastAPI parses and validates a declared body model on the event loop before the route
runs; for a body near ``max_body_bytes`` (a 1 MiB batch of ~10K events) that is tens
of milliseconds during which no other request on the port is served. A route that
takes ``Request`` instead reads the raw bytes and calls ``parse_json_body`` on a worker
thread; ``json_request_body`` documents the model in OpenAPI as FastAPI would.
"""

from __future__ import annotations

import json
from email.message import Message
from typing import Any, TypeVar

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def _is_json(content_type: str | None) -> bool:
    """FastAPI's test: no content type, or ``application/json`` / ``application/*+json``."""
    if not content_type:
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def parse_json_body(model: type[Model], raw: bytes, content_type: str | None) -> Model:
    """``raw`` as ``model``: 422 (``RequestValidationError``, locations under ``body``)
    for a missing, malformed or invalid body, 400 for bytes that are not text."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if not _is_json(content_type):
        raise RequestValidationError(
            [{"type": "content_type", "loc": ("body",), "input": None,
              "msg": "expected a JSON body (content-type: application/json)"}]
        )  # fmt: skip
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise HTTPException(400, "the body is not readable as JSON (not UTF-8)") from None
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", error.pos), "input": {},
              "msg": "JSON decode error", "ctx": {"error": error.msg}}]
        ) from None  # fmt: skip
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


def json_request_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` of a route that parses ``model`` itself (components: see
    ``service.api.docs.openapi``)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}
