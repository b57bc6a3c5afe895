"""Where a bucket notification goes, once it leaves the outbox: a function, through the durable
async queue as an Event invoke; a queue, as one message; a topic, as one publication with S3's
subject. Each is durable when the call returns (the relay deletes the outbox row only then)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from stratus.buckets.model import Delivery
from stratus.control.arns import arn_function, message_target
from stratus.errors import DiskFull, StratusError
from stratus.invoke.async_queue import SendMessage

# AsyncInvoker.accept's (function, qualifier, payload, region) -> request id.
Accept = Callable[[str, str | None, bytes, str], Awaitable[str]]
# EventBuses.publish: (region, source=, detail_type=, detail=, resources=, bus=).
Publish = Callable[..., Awaitable[None]]
Deliver = Callable[[Delivery], Awaitable[None]]
SUBJECT = "Amazon S3 Notification"  # the Subject S3's publications to a topic carry


class Undeliverable(Exception):
    """A delivery that can never be made (its target is not a function, queue or topic, or its
    queue or topic is gone): dropped with a log line, as S3 drops it, rather than retried."""


def deliverer(
    accept: Accept,
    send: SendMessage | None,
    may_send: Callable[[str, str], bool] = lambda arn, bucket_arn: True,
    publish: Publish | None = None,
) -> Deliver:
    """The one way a delivery is made, for the relay and the webhook alike. `may_send` (queue or
    topic ARN, bucket ARN): whether its access policy still lets S3 send to it, as SQS and SNS
    check each message S3 sends (the policy may have changed since the bucket was configured)."""

    async def deliver(delivery: Delivery) -> None:
        arn = delivery.target_arn
        function = arn_function(arn)  # the function of the ARN's region
        if function is not None:
            await accept(function[0].name, function[1], delivery.payload, function[0].region)
            return
        if ":event-bus/" in arn and publish is not None:  # EventBridgeConfiguration
            event = json.loads(delivery.payload)
            await publish(
                delivery.region,
                source=event["source"],
                detail_type=event["detail-type"],
                detail=event["detail"],
                resources=event["resources"],
                bus=arn.partition(":event-bus/")[2],
            )
            return
        kind = message_target(arn)
        if kind is None or send is None:
            raise Undeliverable(f"{arn} is not a function, queue or topic here")
        if not may_send(arn, _bucket_arn(delivery.payload)):
            raise Undeliverable(f"{arn}: its access policy does not allow s3.amazonaws.com for this bucket")
        subject = SUBJECT if kind[0] == "sns" else None
        try:
            await send(arn, delivery.payload, {}, delivery.region, subject=subject)
        except DiskFull:
            raise  # not stored: the relay tries again later
        except StratusError as e:
            if not e.sender_fault:
                raise
            raise Undeliverable(f"{arn}: {e.message}") from e

    return deliver


def _bucket_arn(payload: bytes) -> str:
    """The bucket an event is about (S3's event record names it), or "" when it cannot be read."""
    try:
        return str(json.loads(payload)["Records"][0]["s3"]["bucket"]["arn"])
    except (ValueError, LookupError, TypeError):
        return ""
