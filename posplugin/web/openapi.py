"""The OpenAPI 3.1 document, generated from the declared routes and their schemas."""

from __future__ import annotations

import re
from typing import Iterable

from flask import Blueprint

from .. import __version__
from .endpoint import MAX_ID, ApiBlueprint

STATUS_TEXT = {400: "Unreadable JSON", 401: "No or bad token", 403: "Wrong role",
               404: "Not found", 405: "Method not allowed on this path", 409: "Conflicts with the current state",
               413: "Body over 64 KiB", 415: "Body is not JSON",
               422: "Valid JSON that breaks the schema", 429: "Rate limited"}


def document(blueprints: Iterable[Blueprint], *, title: str, description: str = "",
             superuser: str | None = None) -> dict:
    """The OpenAPI document of the routes declared on ``blueprints``, where
    ``superuser`` is the role that may call every route."""
    blueprints = [bp for bp in blueprints if isinstance(bp, ApiBlueprint)]
    paths: dict[str, dict] = {}
    components: dict[str, dict] = {}
    for bp in blueprints:
        components.update(bp.schemas)
        for op in bp.operations:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.path)
            paths.setdefault(path, {})[op.method.lower()] = _operation(op, path, superuser)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__,
                 "description": (description + " " if description else "")
                 + "Errors always use the Error schema."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(op, path: str, superuser: str | None) -> dict:
    operation = {
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {"302" if op.redirect else "200": _ok(op), **_errors(op)},
    }
    params = _parameters(op)
    if params:
        operation["parameters"] = params
    if op.body:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body}"}}}}
    if op.roles is None:
        operation["security"] = []
    else:
        # Each role once; the service's superuser (the store's admin) may call
        # everything, head office has none.
        roles = list(dict.fromkeys(op.roles))
        if superuser and superuser not in roles:
            roles.append(superuser)
        operation["description"] = "Roles: " + ", ".join(roles) + "."
    return operation


def _parameters(op) -> list[dict]:
    """The operation's declared parameters, and its path's that it did not declare."""
    params = list(op.parameters)
    declared = {p["name"] for p in params if p["in"] == "path"}
    for kind, name in re.findall(r"<(?:(\w+):)?(\w+)>", op.path):
        if name in declared:  # the operation gave its own schema (a pattern, say)
            continue
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID} if kind == "int"
                       else {"type": "string"}})
    return params


def _errors(op) -> dict:
    responses = {}
    for status in op.errors:
        text = STATUS_TEXT.get(status, "Error")
        if status == 400 and not op.body:
            text = "Unreadable request head: a line or header over 8,190 bytes, or not valid HTTP/1.1"
        responses[str(status)] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return responses


def _ok(op) -> dict:
    if op.redirect:
        return {"description": "Redirect", "headers": {"Location": {"schema": {"type": "string"}}}}
    if op.response is None:
        schema = {"type": "object"} if op.response_type == "application/json" else {"type": "string"}
        return {"description": "OK", "content": {op.response_type: {"schema": schema}}}
    return {"description": "OK", "content": {
        op.response_type: {"schema": {"$ref": f"#/components/schemas/{op.response}"}}}}
