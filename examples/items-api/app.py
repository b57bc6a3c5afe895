"""A small JSON CRUD API written as an ordinary AWS Lambda handler.

It runs unchanged behind a Lambda function URL or an API Gateway HTTP API (payload format 2.0):
routes come from the request's method and path, so it needs no framework.

Items live in this environment's memory, which keeps the example self-contained; a real
backend would keep them in a database. Give the function a reserved concurrency of 1 so that
every request reaches the same environment.
"""

import base64
import json
import re
import uuid

ITEMS = {}
ITEM_PATH = re.compile(r"^/items/([A-Za-z0-9-]+)/?$")


def respond(status, body=None, headers=None):
    response = {"statusCode": status, "headers": {"content-type": "application/json", **(headers or {})}}
    if body is not None:
        response["body"] = json.dumps(body)
    return response


def parse_body(event):
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def validate(data, partial=False):
    """The problem with an item's fields, or None."""
    if not partial and "name" not in data:
        return "name is required"
    if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
        return "name must be a non-empty string"
    if "price" in data and (isinstance(data["price"], bool) or not isinstance(data["price"], (int, float))):
        return "price must be a number"
    unknown = set(data) - {"name", "price", "tags"}
    if unknown:
        return f"unknown fields: {', '.join(sorted(unknown))}"
    return None


def list_items(event):
    params = event.get("queryStringParameters") or {}
    items = sorted(ITEMS.values(), key=lambda item: item["name"])
    if "tag" in params:
        items = [item for item in items if params["tag"] in item.get("tags", [])]
    return respond(200, {"items": items, "count": len(items)})


def create_item(event):
    data = parse_body(event)
    if data is None:
        return respond(400, {"error": "the body must be a JSON object"})
    problem = validate(data)
    if problem:
        return respond(400, {"error": problem})
    item = {"id": str(uuid.uuid4()), "price": 0, "tags": [], **data}
    ITEMS[item["id"]] = item
    return respond(201, item, {"location": f"/items/{item['id']}"})


def item_route(method, item_id, event):
    item = ITEMS.get(item_id)
    if item is None:
        return respond(404, {"error": f"no item {item_id}"})
    if method == "GET":
        return respond(200, item)
    if method == "DELETE":
        del ITEMS[item_id]
        return respond(204)
    data = parse_body(event)
    if data is None:
        return respond(400, {"error": "the body must be a JSON object"})
    problem = validate(data, partial=(method == "PATCH"))
    if problem:
        return respond(400, {"error": problem})
    updated = {**item, **data} if method == "PATCH" else {"id": item_id, "price": 0, "tags": [], **data}
    ITEMS[item_id] = updated
    return respond(200, updated)


def handler(event, context):
    method = event["requestContext"]["http"]["method"]
    path = event.get("rawPath", "/")
    stage = event["requestContext"].get("stage", "$default")
    if stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]  # an HTTP API's named stage prefixes the raw path
    if path.rstrip("/") in ("", "/health"):
        return respond(200, {"ok": True, "requestId": context.aws_request_id})
    if path.rstrip("/") == "/items":
        if method == "GET":
            return list_items(event)
        if method == "POST":
            return create_item(event)
        return respond(405, {"error": f"{method} is not allowed on /items"}, {"allow": "GET, POST"})
    match = ITEM_PATH.match(path)
    if match:
        if method not in ("GET", "PUT", "PATCH", "DELETE"):
            return respond(405, {"error": f"{method} is not allowed"}, {"allow": "GET, PUT, PATCH, DELETE"})
        return item_route(method, match.group(1), event)
    return respond(404, {"error": f"no route for {method} {path}"})
