"""The OpenAPI 3.1 document of the ingest API, with FeedbackEvent v1 embedded from its schema file.

Built from `schemas/feedback_event.v1.json` at start-up, so the document a source system reads
and the validator the server runs cannot disagree.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from schemas.feedback_event import SCHEMA

MAX_EVENTS: Final = 1000
MAX_BODY_BYTES: Final = 5 * 1024 * 1024


def _feedback_event_schema() -> dict[str, Any]:
    schema = copy.deepcopy(SCHEMA)
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


def _error(description: str, extra_headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if extra_headers:
        response["headers"] = extra_headers
    return response


def build_document(server_url: str | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "pxstream ingest API",
            "version": "1.0.0",
            "description": (
                "Submit patient feedback (GP practices, Healthwatch, web forms) as FeedbackEvent v1. "
                "Each organisation has its own bearer token and may submit only for itself: an event "
                "without `organisation` is stamped with the token's organisation; an event naming "
                "another is refused with 403. A request is all or nothing: 202 means Kafka has "
                "acknowledged every event; 400 lists every problem and sends nothing. Re-sending after "
                "a 503 or a lost response is safe: events are de-duplicated on `event_id`. Events dated more "
                "than a day in the future are refused (400)."
            ),
        },
        "paths": {
            "/v1/events": {
                "post": {
                    "operationId": "submitEvents",
                    "summary": f"Submit one FeedbackEvent or an array of up to {MAX_EVENTS:,}",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "description": f"At most {MAX_BODY_BYTES // 2**20} MiB.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/FeedbackEvent"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": MAX_EVENTS,
                                            "items": {"$ref": "#/components/schemas/FeedbackEvent"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "Every event was acknowledged by Kafka",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}
                            },
                        },
                        "400": {
                            "description": "Refused: every problem is listed and nothing was sent",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ValidationErrors"}
                                }
                            },
                        },
                        "401": _error(
                            "No token, or a token that is not known",
                            {"WWW-Authenticate": {"schema": {"type": "string"}}},
                        ),
                        "403": _error("An event names an organisation other than the token's"),
                        "413": _error(
                            f"The body is larger than {MAX_BODY_BYTES // 2**20} MiB, or an event is larger "
                            "than one Kafka message takes (`indexes` names them); nothing was sent"
                        ),
                        "429": _error(
                            "Over this token's rate limit; retry after the given seconds",
                            {
                                "Retry-After": {
                                    "required": True,
                                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                                }
                            },
                        ),
                        "503": _error(
                            "Kafka is not reachable; nothing was acknowledged, retry later",
                            {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}},
                        ),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "200 when Kafka is reachable, 503 otherwise",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Kafka is reachable",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}
                            },
                        },
                        "503": {
                            "description": "Kafka is not reachable",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}
                            },
                        },
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Prometheus metrics (request counts by status, events accepted)",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "FeedbackEvent": _feedback_event_schema(),
                "Accepted": {
                    "type": "object",
                    "required": ["accepted"],
                    "properties": {"accepted": {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS}},
                },
                "ValidationErrors": {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {
                        "errors": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["index", "path", "message"],
                                "properties": {
                                    "index": {
                                        "type": ["integer", "null"],
                                        "description": "position of the event in the array (0 for a single "
                                        "event); null when the body as a whole is wrong",
                                    },
                                    "path": {"type": "string", "description": "field, e.g. `occurred_at`"},
                                    "message": {"type": "string"},
                                },
                            },
                        }
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "indexes": {"type": "array", "items": {"type": "integer"}},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"enum": ["ok", "unavailable"]}, "kafka": {"type": "string"}},
                },
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
