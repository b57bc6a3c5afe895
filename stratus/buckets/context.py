"""What the S3 handlers read: the bucket store and the checks they ask of the rest of the
platform, passed in by `app.py` so that this package needs no registry or authorizer of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stratus.buckets.objects import Buckets


@dataclass(frozen=True)
class S3Context:
    buckets: Buckets
    account_id: str
    # Whether a function (its ARN, possibly qualified) exists in the region the ARN names.
    function_exists: Callable[[str], bool]
    # Whether a function's resource policy lets s3.amazonaws.com invoke it for a bucket:
    # (function ARN, bucket ARN, region) -> bool. AWS refuses a notification configuration
    # whose target S3 may not invoke.
    s3_may_invoke: Callable[[str, str, str], bool]
    # Whether an SQS queue or SNS topic ARN names one that exists (a notification's target).
    s3_may_send: Callable[[str, str], bool]
    # Whether the caller of the request being served may do an action on a resource, in a
    # region: DeleteObjects refuses the keys it may not delete one by one, as S3 does.
    caller_may: Callable[[str, str, str], bool]
