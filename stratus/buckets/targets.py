"""Where a bucket notification goes, once it leaves the outbox: a function, through the durable
async queue as an Event invoke; a queue, as one message; a topic, as one publication with S3's
subject. Each is durable when the call returns (the relay deletes the outbox row only then)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from stratus.buckets.model import Delivery
from stratus.control.arns import destination_function, message_target
from stratus.errors import DiskFull, StratusError
from stratus.invoke.async_queue import SendMessage

# AsyncInvoker.accept's (function, qualifier, payload, region) -> request id.
Accept = Callable[[str, str | None, bytes, str], Awaitable[str]]
Deliver = Callable[[Delivery], Awaitable[None]]
SUBJECT = "Amazon S3 Notification"  # the Subject S3's publications to a topic carry


class Undeliverable(Exception):
    """A delivery that can never be made (its target is not a function, queue or topic, or its
    queue or topic is gone): dropped with a log line, as S3 drops it, rather than retried."""


def deliverer(accept: Accept, send: SendMessage | None) -> Deliver:
    """The one way a delivery is made, for the relay and the webhook alike."""

    async def deliver(delivery: Delivery) -> None:
        arn = delivery.target_arn
        function = destination_function(arn)
        if function is not None:
            await accept(function[0], function[1], delivery.payload, delivery.region)
            return
        kind = message_target(arn)
        if kind is None or send is None:
            raise Undeliverable(f"{arn} is not a function, queue or topic here")
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
