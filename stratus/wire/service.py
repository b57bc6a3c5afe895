"""The one declaration of a service: everything the gateway needs to reach it, read its
requests, check them and answer them, in one value next to its handlers.

    SERVICE = Service(
        model="logs",
        signing=Signing("logs", targets=("Logs_20140328",)),
        handlers={"DescribeLogGroups": describe_log_groups, ...},
        validation_error="InvalidParameterException",
    )

The gateway dispatches from these declarations (`wire/dispatch.py`); nothing in it knows a
service by name. Handlers receive input the model has already checked (required members,
types, lengths, patterns, enums), so they keep only the checks a model cannot express.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from stratus.wire.rest_routes import NoRoute
from stratus.wire.signing import Signing
from stratus.wire.types import WireError, WireProtocol

C = TypeVar("C")

# What the JSON services already took: the context they read, the operation's input as a boto3
# call takes it, and the region the request was signed for; the result as boto3 returns it.
Handler = Callable[[C, dict[str, Any], str], Awaitable[dict[str, Any]]]
# An operation's IAM action and the ARN of the resource it acts on, from its input, the
# region and the account: what a policy is evaluated against.
Authorization = Callable[[Mapping[str, Any], str, str], tuple[str, str]]

# A service's own condition keys of one request (lower-cased, as policies are matched), by the
# (IAM action, resource ARN) pair they describe: what the guard adds to the request context of
# the operation's check and of its `also_requires` checks (DynamoDB's dynamodb:LeadingKeys is
# each table's own items' partition keys). A pair not in it gets none.
RequestKeys = Mapping[tuple[str, str], Mapping[str, tuple[str, ...]]]
ConditionKeys = Callable[[C, Mapping[str, Any], str, str], RequestKeys]


# botocore's names for the protocols a service may speak.
PROTOCOLS = frozenset({"json", "query", "rest-json", "rest-xml"})


@dataclass(frozen=True)
class Service(Generic[C]):
    """A service as the gateway serves it."""

    # botocore's model name ("logs", "events", "cloudwatch", "lambda"...).
    model: str
    # How requests reach it and how they must be signed.
    signing: Signing
    # The operations it implements; the model's other operations answer `not_implemented`.
    handlers: Mapping[str, Handler[C]]
    # The service's own code for input the model refuses, and (where the service has one, as
    # CloudWatch's MissingParameter) for input that lacks only required members.
    validation_error: str = "ValidationException"
    missing_error: str | None = None
    # The protocols it answers, in botocore's names; the first REST one serves its paths.
    protocols: tuple[str, ...] = ("json",)
    # What a request under its paths that matches no operation is told (REST protocols only;
    # None: the protocol's default, Lambda's UnknownOperationException or S3's MethodNotAllowed).
    no_route: NoRoute | None = None
    # A REST protocol of the service's own, where its conventions differ from the protocol's
    # (Lambda's `Type` in errors and its code for an unreadable body); None: the protocol's.
    rest_impl: WireProtocol | None = None
    # Each operation's IAM action and resource, where it is not `<prefix>:<Operation>` on "*".
    authorization: Mapping[str, Authorization] = field(default_factory=dict)
    # The IAM action prefix when it differs from the signing name (CloudWatch signs as
    # "monitoring" but its actions are "cloudwatch:...").
    action_prefix: str | None = None
    # The resource-based policy (JSON text) of a resource, by its ARN, where the service has
    # them (Lambda's AddPermission statements): evaluated with the caller's own policies.
    resource_policy: Callable[[C, str], str | None] | None = None
    # Further (action, resource) pairs an operation needs, from its input: iam:PassRole on the
    # role CreateFunction gives a function, so that a caller cannot hand out a role it may not.
    also_requires: Mapping[str, Callable[[Mapping[str, Any], str, str], tuple[tuple[str, str], ...]]] = field(
        default_factory=dict
    )
    # Each operation's own condition keys, from its context, input, region and account (see
    # `ConditionKeys`), where its service defines keys a policy may test.
    condition_keys: Mapping[str, ConditionKeys[C]] = field(default_factory=dict)
    # The resource's one true ARN, for the ARN `authorization` built from the request: where one
    # resource answers to several spellings (any signing region for Lambda's region-less
    # namespace, IAM names in any case, a role without its path), a policy must be evaluated
    # against the same ARN whichever spelling the caller chose.
    canonical_resource: Callable[[C, str], str] | None = None
    # Operations any authenticated caller may call, whatever its policies say (AWS's
    # sts:GetCallerIdentity).
    public_operations: frozenset[str] = frozenset()
    # The service's own code for a caller its policies refuse, where it is not the protocol's
    # AccessDenied(Exception): SNS's AuthorizationError.
    access_denied_code: str | None = None
    # String shapes whose enum the handlers check themselves, where the model's enum is
    # narrower than what the service accepts (SQS's ReceiveMessage AttributeNames takes message
    # system attribute names, which the model's queue-attribute enum leaves out).
    unchecked_enums: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.protocols) - PROTOCOLS
        if unknown or not self.protocols:
            raise ValueError(
                f"{self.model}: protocols must be some of {sorted(PROTOCOLS)}, not {self.protocols}"
            )
        stray = set(self.authorization) - set(self.handlers)
        if stray:
            raise ValueError(f"{self.model}: authorization for operations without handlers: {sorted(stray)}")

    def speaks(self, protocol: str) -> bool:
        return protocol in self.protocols

    @property
    def rest_protocol(self) -> str | None:
        """The REST protocol that serves the service's paths, if it has one."""
        return next((p for p in self.protocols if p.startswith("rest-")), None)

    def action(self, operation: str, params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        """(IAM action, resource ARN) of one call of `operation`."""
        declared = self.authorization.get(operation)
        if declared is not None:
            return declared(params, region, account)
        return f"{self.action_prefix or self.signing.name}:{operation}", "*"

    def invalid(self, problems: list[str], message: str) -> WireError:
        """The error for input the model refuses. `problems` are the validator's findings,
        `message` their joined AWS wording."""
        missing_only = all("Member must not be null" in p for p in problems)
        code = self.missing_error if self.missing_error and missing_only else self.validation_error
        return WireError(code, message, 400)


def not_implemented(protocol: str, operation: str) -> WireError:
    """The answer to an operation the model has but the service does not implement, as AWS
    answers an operation it does not know in each protocol: the query protocol's
    InvalidAction, S3's NotImplemented, and UnknownOperationException for the JSON ones."""
    if protocol == "query":
        return WireError("InvalidAction", f"The action {operation} is not valid for this web service.", 400)
    if protocol == "rest-xml":
        return WireError(
            "NotImplemented", f"{operation} is not implemented by Stratus.", 501, sender_fault=False
        )
    return WireError("UnknownOperationException", f"Operation {operation} is not supported by Stratus.", 400)
