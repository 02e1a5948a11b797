"""The served OpenAPI document: the ingest API's, plus the actions routes.

The ingest document is built from FeedbackEvent's schema file (connectors/ingest/openapi.py); the
actions part is built here from the same constants the server validates with
(pxstream/web/actions_requests.py, schemas/action.py), so the document and the checks agree.
"""

from __future__ import annotations

from typing import Any

from connectors.ingest.openapi import build_document as build_ingest_document
from pxstream.web.actions_requests import (
    DEFAULT_LIMIT,
    MAX_BY,
    MAX_ID,
    MAX_LINKED_EVENTS,
    MAX_LIST,
    MAX_PLACE,
    OWNER_PATTERN,
    TEXT_LIMITS,
)
from schemas.action import (
    ACTION_FIELDS,
    CHANGES,
    HISTORY_EXTENSION_FIELDS,
    HISTORY_FIELDS,
    REQUIRED_FOR,
    STATUSES,
)

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _content(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(name)}}


def _text(limit: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limit}


_OWNER = {"type": "string", "pattern": OWNER_PATTERN.pattern}
_MOMENT = {"type": "string", "format": "date-time", "maxLength": 64}
_AUTH_ERRORS = {
    "401": {"description": "No token, or a token that is not known", "content": _content("Error")},
    "429": {"description": "Over this token's rate limit", "content": _content("Error")},
}
_ID_PARAMETER = {"name": "action_id", "in": "path", "required": True, "schema": {"type": "string"}}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe when two identical requests are meant as two (without it, "
    "the request itself is the key).",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
}
_UNAVAILABLE = {
    "description": "Kafka is unreachable or the server is still reading the actions; retry",
    "content": _content("Error"),
}


def _action_schema() -> dict[str, Any]:
    nullable_text = {"type": ["string", "null"]}
    properties: dict[str, Any] = {name: {} for name in ACTION_FIELDS}
    properties.update(
        {
            "action_id": {"type": "string"},
            "version": {"type": "integer", "minimum": 1},
            "rule_id": {"type": "string"},
            "title": {"type": "string"},
            "status": {"enum": list(STATUSES)},
            "overdue": {"type": "boolean"},
            "escalation_level": {"type": "integer", "minimum": 0},
            "organisations": {"type": "array", "items": {"type": "string"}},
            "domains": {"type": "array", "items": {"type": "string"}},
            "trigger": {"type": "object"},
            "due_at": nullable_text,
            "completed_at": nullable_text,
            "outcome": nullable_text,
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {name: {} for name in (*HISTORY_FIELDS, *HISTORY_EXTENSION_FIELDS)},
                },
            },
        }
    )
    return {
        "type": "object",
        "required": ["action_id", "version", "status", "organisations"],
        "properties": properties,
    }


def _change_schema() -> dict[str, Any]:
    """One schema per change (`oneOf` on `change`), each with exactly the fields that change takes."""
    variants = []
    for change in CHANGES:
        properties: dict[str, Any] = {
            "change": {"const": change},
            "by": _text(MAX_BY),
            "note": _text(TEXT_LIMITS["note"]),
        }
        for name in REQUIRED_FOR[change]:
            properties[name] = {"owner": _OWNER, "due_at": _MOMENT}.get(name) or _text(TEXT_LIMITS[name])
        variants.append(
            {
                "type": "object",
                "required": ["change", "by", *REQUIRED_FOR[change]],
                "properties": properties,
                "additionalProperties": False,
            }
        )
    return {"oneOf": variants}


def _new_action_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": _text(TEXT_LIMITS["title"]),
            "due": {"type": "string", "examples": ["5 working days", "2 days", "4 hours"]},
            "due_at": _MOMENT,
            "owner": _OWNER,
            "by": _text(MAX_BY),
            **{name: _text(MAX_PLACE) for name in ("provider", "site", "ward")},
            "links": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "event_ids": {"type": "array", "maxItems": MAX_LINKED_EVENTS, "items": _text(MAX_ID)},
                    "alert_id": _text(MAX_ID),
                },
            },
        },
        "additionalProperties": False,
        "description": "Exactly one of `due` and `due_at`.",
    }


def actions_paths() -> dict[str, Any]:
    problems = {
        "description": "Every problem in the request, by field",
        "content": _content("ValidationErrors"),
    }
    not_found = {"description": "No such action for this organisation", "content": _content("Error")}
    return {
        "/v1/actions": {
            "get": {
                "operationId": "listActions",
                "summary": "The organisation's actions, by due date",
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "comma-separated statuses",
                    },
                    {"name": "owner", "in": "query", "schema": _OWNER},
                    {"name": "overdue", "in": "query", "schema": {"enum": ["true", "false"]}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIST,
                            "default": DEFAULT_LIMIT,
                        },
                    },
                ],
                "responses": {
                    "200": {"description": "The actions", "content": _content("ActionList")},
                    "400": problems,
                    "503": _UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            },
            "post": {
                "operationId": "createAction",
                "summary": "A manual action (e.g. from the monthly review meeting)",
                "security": [{"bearer": []}],
                "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": _content("NewAction")},
                "responses": {
                    "201": {
                        "description": "The action as the actions stage made it",
                        "content": _content("Action"),
                    },
                    "202": {
                        "description": "Sent, but the actions stage has not made it yet: poll the Location",
                        "content": _content("Pending"),
                    },
                    "400": problems,
                    "413": {"description": "The body is too large", "content": _content("Error")},
                    "503": _UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            },
        },
        "/v1/actions/{action_id}": {
            "get": {
                "operationId": "showAction",
                "security": [{"bearer": []}],
                "parameters": [_ID_PARAMETER],
                "responses": {
                    "200": {"description": "The action", "content": _content("Action")},
                    "404": not_found,
                    "503": _UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/v1/actions/{action_id}/changes": {
            "post": {
                "operationId": "changeAction",
                "summary": "Acknowledge, comment, reassign, extend, complete, reopen or cancel",
                "security": [{"bearer": []}],
                "parameters": [_ID_PARAMETER, _IDEMPOTENCY],
                "requestBody": {"required": True, "content": _content("Change")},
                "responses": {
                    "202": {"description": "The change is on Kafka", "content": _content("ChangeAccepted")},
                    "400": problems,
                    "404": not_found,
                    "409": {
                        "description": "The action's status does not allow this change",
                        "content": _content("Error"),
                    },
                    "413": {"description": "The body is too large", "content": _content("Error")},
                    "503": _UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            }
        },
    }


def actions_schemas() -> dict[str, Any]:
    return {
        "Action": _action_schema(),
        "ActionList": {
            "type": "object",
            "required": ["actions"],
            "properties": {
                "actions": {"type": "array", "items": _ref("Action")},
                "truncated": {"type": "boolean"},
            },
        },
        "NewAction": _new_action_schema(),
        "Change": _change_schema(),
        "ChangeAccepted": {
            "type": "object",
            "required": ["action_id"],
            "properties": {"action_id": {"type": "string"}},
        },
        "Pending": {
            "type": "object",
            "required": ["action_id", "status"],
            "properties": {"action_id": {"type": "string"}, "status": {"const": "pending"}},
        },
    }


def build_document(server_url: str | None = None) -> dict[str, Any]:
    document = build_ingest_document(server_url)
    document["info"]["title"] = "pxstream API"
    document["info"]["description"] += (
        " Follow-up actions: list and read your organisation's actions, create manual ones and post "
        "changes; the actions stage applies each change once (docs/actions-api.md)."
    )
    document["paths"].update(actions_paths())
    document["components"]["schemas"].update(actions_schemas())
    return document
