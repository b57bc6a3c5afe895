"""What the SQS handlers read: the queue store, the account, and the base of queue URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stratus.queues.queues import Queues


@dataclass(frozen=True)
class SqsContext:
    queues: Queues
    account_id: str
    # The base of the QueueUrls answered, e.g. "http://localhost:4566": a QueueUrl is
    # `{endpoint}/{account}/{name}`; any URL whose last two path segments are account/name names
    # that queue in the request's region.
    endpoint: str
