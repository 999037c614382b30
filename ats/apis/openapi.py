"""The OpenAPI 3.1 document of the control API (``GET /api/v1/openapi.json``), generated
from the operations table and the read model's pydantic schemas, so it always describes
what the server really does."""

from __future__ import annotations

import functools
from typing import Any

from ats.apis.operations import EVENTS_PATH, OPERATIONS, STOP_PROCESS_PATH, Operation
from ats.apis.wire import answer_adapter, arguments_model
from ats.trading_job.views import SCHEMA_VERSION

_ERROR = {
    "description": "A one-line error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                "required": ["error", "message"],
            }
        }
    },
}


@functools.cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.url_path, {})[operation.method.lower()] = _operation(
            operation, components
        )
    paths[EVENTS_PATH] = {
        "get": {
            "operationId": "events",
            "summary": "WebSocket: coalesced change summaries (JSON text messages, ≤ 10/s); "
            'the first one names every job. Send {"hold_foreground": seconds} after a key press.',
            "responses": {"101": {"description": "switching to the WebSocket protocol"}},
        }
    }
    paths[STOP_PROCESS_PATH] = {
        "post": {
            "operationId": "stop_process",
            "summary": "Stop every job, save and exit, as on SIGTERM (q in ats attach); "
            "the event stream ends when the process closes the API",
            "responses": {
                "202": {
                    "description": "stopping: the pid",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"stopping": {"type": "integer"}},
                            }
                        }
                    },
                },
                "404": _ERROR,
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "ATS control API", "version": f"1.{SCHEMA_VERSION}"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _schema(kind: Any, components: dict[str, Any]) -> dict[str, Any]:
    """``kind``'s JSON schema with its definitions moved to the components."""
    schema = answer_adapter(kind).json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def _operation(operation: Operation, components: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": operation.name,
        "summary": operation.summary,
        "responses": {
            "200": {
                "description": "the answer",
                "content": {"application/json": {"schema": _schema(operation.returns, components)}},
            },
            "400": _ERROR,
            "401": _ERROR,
            "409": _ERROR,
            "422": _ERROR,
        },
    }
    parameters = []
    for param in operation.params:
        if param.where in ("path", "query"):
            parameters.append(
                {
                    "name": param.name,
                    "in": param.where,
                    "required": param.required,
                    "schema": _schema(param.type, components),
                }
            )
    if parameters:
        spec["parameters"] = parameters
    if any(param.where == "body" for param in operation.params):
        body_schema = arguments_model(operation).model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(body_schema.pop("$defs", {}))
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    return spec
