"""What each service declares about how its requests are signed, and which declaration a
request reaches.

A SigV4 signature is only as narrow as what it is checked against: a signature made for S3
must not open Lambda, and a presigned URL (the signature in the query string, replayable by
whoever holds the link) must not run an operation that AWS accepts only with an
`Authorization` header. Each service says so once, next to its handlers; the gateway picks the
declaration by how the request reaches the service (path prefix, `X-Amz-Target` prefix, or a
query-protocol form signed for it) and `sigv4.verify` holds the signature to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass


def never(method: str, raw_path: str) -> bool:
    return False


def always(method: str, raw_path: str) -> bool:
    return True


@dataclass(frozen=True)
class Signing:
    """A service's signing declaration."""

    # The service in the credential scope (`.../REGION/NAME/aws4_request`), botocore's
    # `signingName`: "lambda", "logs", "events", "monitoring", "apigateway", "s3"...
    name: str
    # How requests reach the service: path prefixes (REST protocols), X-Amz-Target prefixes
    # (JSON protocol), and whether forms signed for `name` are its query-protocol requests.
    paths: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    query_protocol: bool = False
    # Which requests may be presigned, by method and raw path. AWS documents query-string
    # authentication for S3 objects (and Lambda accepts it on AWS_IAM function URLs); the
    # management APIs here take only the Authorization header, so the default is none.
    presigned: Callable[[str, str], bool] = never
    # Paths other than `/` at which forms signed for `name` are its query-protocol requests,
    # and the input member such a path stands for when the form leaves it out: query-era SQS
    # clients (the AWS SDK for Java 1.x) post to the queue's URL and send no QueueUrl.
    query_path: re.Pattern[str] | None = None
    query_path_member: str | None = None

    def at_query_path(self, path: str) -> bool:
        return self.query_path is not None and self.query_path.fullmatch(path) is not None


def reached(
    declarations: Iterable[Signing],
    path: str,
    target: str | None,
    form: bool,
    scope_service: str | None,
) -> Signing | None:
    """The declaration of the service a request reaches, or None when it reaches none (it is
    then answered 404 or InvalidAction after its signature is checked)."""
    declared = tuple(declarations)
    # In the order the gateway routes: REST paths, then POST / by X-Amz-Target, then forms.
    for d in declared:
        if d.paths and path.startswith(d.paths):
            return d
    if path != "/":
        if form and target is None:
            return next(
                (
                    d
                    for d in declared
                    if d.query_protocol and d.name == scope_service and d.at_query_path(path)
                ),
                None,
            )
        return None
    if target is not None:
        prefix = target.partition(".")[0]
        return next((d for d in declared if prefix in d.targets), None)
    if form:
        return next((d for d in declared if d.query_protocol and d.name == scope_service), None)
    return None
