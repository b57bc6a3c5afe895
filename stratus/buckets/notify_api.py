"""PutBucketNotificationConfiguration and GetBucketNotificationConfiguration: the S3 handlers
that store and answer a bucket's notification configuration (its subscriptions: which
functions, queues and topics its object changes go to). The decisions are `notifications.validate`'s."""

from __future__ import annotations

import json
from typing import Any

from stratus.buckets.context import S3Context
from stratus.buckets.notifications import validate


async def put_bucket_notification_configuration(
    ctx: S3Context, params: dict[str, Any], region: str
) -> dict[str, Any]:
    name = params["Bucket"]
    info = ctx.buckets.bucket(name)  # NoSuchBucket before anything else is judged
    skip = bool(params.get("SkipDestinationValidation"))
    text = validate(
        params.get("NotificationConfiguration") or {},
        # S3 holds a bucket's destinations to the bucket's own region, whatever region the
        # request was signed for.
        region=info.region,
        account_id=ctx.account_id,
        function_exists=(lambda arn: True) if skip else ctx.function_exists,
        s3_may_invoke=(lambda arn, bucket, where: True) if skip else ctx.s3_may_invoke,
        s3_may_send=(lambda arn, bucket: True) if skip else ctx.s3_may_send,
        bucket=name,
    )
    await ctx.buckets.put_notification(name, text or None)
    return {}


async def get_bucket_notification_configuration(
    ctx: S3Context, params: dict[str, Any], region: str
) -> dict[str, Any]:
    name = params["Bucket"]
    ctx.buckets.bucket(name)
    text = ctx.buckets.notification(name)
    if not text:
        return {}
    stored: dict[str, Any] = json.loads(text)
    return stored
