"""Webhook ingestion: S3 event records from another S3-compatible store (MinIO's webhook
notification target) trigger the functions subscribed here.

`POST /_stratus/webhooks/s3` takes MinIO's body, `{"EventName": ..., "Key": "bucket/key",
"Records": [S3 event records]}` (a bare `{"Records": [...]}` as well), authenticated by a bearer
token (MinIO's `auth_token` is sent as `Authorization: Bearer TOKEN`). Each record goes where
the notification configuration of the Stratus bucket of the same name says: that configuration
is the subscription, checked as any other (target exists, may be invoked by S3, filters). The
answer is 200 only once every delivery is in the durable async queue, so the sender's own retry
(MinIO keeps undelivered events in its queue_dir) covers a failure: at least once.

The token: `s3_webhook_token` in the config (STRATUS_S3_WEBHOOK_TOKEN), else one generated
once into the data dir (mode 0600), where users of the data dir read it."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from stratus.buckets.errors import NoSuchBucket
from stratus.buckets.model import Delivery
from stratus.buckets.notifications import route_record
from stratus.buckets.targets import Deliver, Undeliverable
from stratus.config import write_private

log = logging.getLogger(__name__)

PATH = "/_stratus/webhooks/s3"
TOKEN_FILE = "s3-webhook-token"
MAX_BODY = 4 * 1024 * 1024  # MinIO sends one event per request; S3 records are a few KB



class Subscriptions(Protocol):
    """What the webhook reads of `Buckets`: a bucket's stored notification configuration."""

    def notification(self, bucket: str) -> str | None: ...


def webhook_token(data_dir: Path, configured: str | None) -> str:
    """The configured token, else the one stored in the data dir, else a new one stored there."""
    if configured:
        return configured
    path = data_dir / TOKEN_FILE
    try:
        stored = path.read_text().strip()
    except FileNotFoundError:
        stored = ""
    if stored:
        return stored
    token = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    write_private(path, token.encode())
    return token


def authorized(header: str | None, token: str) -> bool:
    if not header or not token:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def records_of(body: Any) -> list[dict[str, Any]]:
    """The S3 records of a webhook body, or ValueError when it is not one."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    records = body.get("Records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("the body must have a Records list of S3 event records")
    for r in records:
        s3 = r.get("s3")
        if not isinstance(s3, dict) or not isinstance(s3.get("bucket"), dict):
            raise ValueError("an S3 event record must have s3.bucket.name")
        if not isinstance(s3["bucket"].get("name"), str) or not isinstance(s3.get("object"), dict):
            raise ValueError("an S3 event record must have s3.bucket.name and s3.object.key")
    return records


def deliveries(buckets: Subscriptions, records: Sequence[dict[str, Any]]) -> list[Delivery]:
    out: list[Delivery] = []
    for record in records:
        name = record["s3"]["bucket"]["name"]
        try:
            config = buckets.notification(name)
        except NoSuchBucket:
            config = None  # no bucket of that name here: nobody subscribed
        out.extend(route_record(config, record))
    return out


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"Code": code, "Message": message}, status=status)


def routes(buckets: Subscriptions, token: str, deliver: Deliver) -> Callable[[web.Application], None]:
    async def ingest(request: web.Request) -> web.Response:
        if not authorized(request.headers.get("Authorization"), token):
            return _error(403, "AccessDenied", "A valid 'Authorization: Bearer TOKEN' header is required.")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _error(413, "EntityTooLarge", f"A webhook body may be at most {MAX_BODY} bytes.")
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return _error(413, "EntityTooLarge", f"A webhook body may be at most {MAX_BODY} bytes.")
        try:
            records = records_of(json.loads(raw))
        except ValueError as e:  # json.JSONDecodeError is a ValueError
            return _error(400, "MalformedJSON", f"Not an S3 event notification: {e}")
        queued = 0
        for delivery in deliveries(buckets, records):
            try:
                await deliver(delivery)
            except Undeliverable as e:
                log.error("webhook event dropped: %s", e)
                continue
            except Exception as e:
                # Not stored: the sender keeps the event and sends it again.
                log.warning("webhook event for %s not queued: %s", delivery.target_arn, e)
                return _error(503, "ServiceUnavailable", "The event could not be queued; send it again.")
            queued += 1
        return web.json_response({"Records": len(records), "Queued": queued})

    async def probe(request: web.Request) -> web.Response:
        # MinIO checks that a webhook target is reachable before it sends events to it.
        return web.Response(status=200)

    def register(app: web.Application) -> None:
        app.router.add_post(PATH, ingest)
        app.router.add_route("HEAD", PATH, probe)

    return register
