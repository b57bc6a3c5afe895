"""Topics and subscriptions as SNS describes them (frozen values), and the pure rules over them:
names, ARNs, the attributes each answers and accepts, endpoints per protocol, filter policies."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stratus.events.patterns import Pattern, compile_pattern, message_attributes_event
from stratus.topics.errors import InvalidParameter

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TOPIC_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[A-Za-z0-9_.-]{1,256})$"
)
SUBSCRIPTION_ARN = re.compile(
    r"^(?P<topic>arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}):(?P<id>[0-9a-f-]{36})$"
)
FUNCTION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$"
)
QUEUE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$")

SUPPORTED_PROTOCOLS = ("lambda", "sqs", "http", "https")
# SNS's other protocols, refused by name so that a caller knows it is Stratus, not a typo.
REFUSED_PROTOCOLS = ("email", "email-json", "sms", "application", "firehose")
TOPIC_SETTABLE = frozenset(
    {
        "DisplayName",
        "Policy",
        "DeliveryPolicy",
        "KmsMasterKeyId",
        "SignatureVersion",
        "TracingConfig",
        "ContentBasedDeduplication",
        "FifoTopic",
        "ArchivePolicy",
        "DataProtectionPolicy",
    }
) | frozenset(
    # Delivery status logging, per protocol: kept and answered (Terraform's aws_sns_topic sets
    # each sample rate, 0 by default), though Stratus writes no delivery status logs.
    f"{protocol}{setting}"
    for protocol in ("HTTP", "Firehose", "Lambda", "Application", "SQS")
    for setting in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")
)
SUBSCRIPTION_SETTABLE = frozenset(
    {
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "SubscriptionRoleArn",
    }
)
_DEFAULT_RETRY: dict[str, Any] = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "backoffFunction": "linear",
}
DEFAULT_DELIVERY_POLICY: dict[str, Any] = {
    "http": {
        "defaultHealthyRetryPolicy": {
            "minDelayTarget": 20,
            "maxDelayTarget": 20,
            "numRetries": 3,
            "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "backoffFunction": "linear",
        },
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
}


def topic_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{account}:{name}"


def topic_of_subscription(arn: str) -> str | None:
    match = SUBSCRIPTION_ARN.match(arn)
    return match.group("topic") if match else None


def default_policy(arn: str, account: str) -> str:
    """The access policy a new topic gets: the owner may do everything with it."""
    actions = [
        "SNS:GetTopicAttributes",
        "SNS:SetTopicAttributes",
        "SNS:AddPermission",
        "SNS:RemovePermission",
        "SNS:DeleteTopic",
        "SNS:Subscribe",
        "SNS:ListSubscriptionsByTopic",
        "SNS:Publish",
    ]
    statement = {
        "Sid": "__default_statement_ID",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": actions,
        "Resource": arn,
        "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
    }
    return json.dumps({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [statement]})


@dataclass(frozen=True)
class Topic:
    arn: str
    region: str
    name: str
    account_id: str
    attributes: Mapping[str, str]  # the ones set (defaults are filled in when answered)
    tags: Mapping[str, str]
    created_ms: int
    sequence: int = 0  # FIFO: the last sequence number given

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoTopic", "false").lower() == "true"

    @property
    def content_dedup(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication", "false").lower() == "true"


@dataclass(frozen=True)
class Subscription:
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    attributes: Mapping[str, str]
    confirmed: bool
    token: str
    created_ms: int
    filter: Pattern | None = field(default=None, compare=False)

    @property
    def raw(self) -> bool:
        return self.attributes.get("RawMessageDelivery", "false").lower() == "true"

    def accepts(self, message: str, attributes: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether the filter policy lets a message through (no policy: every message)."""
        if self.filter is None:
            return True
        if self.attributes.get("FilterPolicyScope", "MessageAttributes") == "MessageBody":
            try:
                body = json.loads(message)
            except ValueError:
                return False
            return self.filter.matches(body)
        return self.filter.matches(message_attributes_event(attributes))


def compile_filter(attributes: Mapping[str, str]) -> Pattern | None:
    """The compiled FilterPolicy of a subscription's attributes; InvalidParameter when it is bad."""
    text = attributes.get("FilterPolicy", "")
    if not text.strip():
        return None
    scope = attributes.get("FilterPolicyScope", "MessageAttributes")
    if scope not in ("MessageAttributes", "MessageBody"):
        raise InvalidParameter(
            "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [" + scope + "]"
        )
    if len(text.encode()) > 256 * 1024:
        raise InvalidParameter("Invalid parameter: FilterPolicy: Filter policy is too long")
    try:
        policy = json.loads(text)
        if not isinstance(policy, dict):
            raise ValueError("Filter policy must be a JSON object")
        return compile_pattern(policy, dialect="sns" if scope == "MessageAttributes" else "sns-body")
    except (ValueError, RecursionError) as e:
        raise InvalidParameter(f"Invalid parameter: FilterPolicy: {e}") from None


def check_endpoint(protocol: str, endpoint: str) -> None:
    """InvalidParameter unless `endpoint` is one `protocol` can deliver to."""
    if protocol in REFUSED_PROTOCOLS:
        raise InvalidParameter(
            f"Invalid parameter: Protocol: {protocol} subscriptions are not supported by Stratus "
            f"(supported: {', '.join(SUPPORTED_PROTOCOLS)})"
        )
    if protocol not in SUPPORTED_PROTOCOLS:
        raise InvalidParameter(
            f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
        )
    valid = {
        "lambda": FUNCTION_ARN.match(endpoint) is not None,
        "sqs": QUEUE_ARN.match(endpoint) is not None,
        "http": endpoint.startswith("http://") and len(endpoint) > 7,
        "https": endpoint.startswith("https://") and len(endpoint) > 8,
    }[protocol]
    if not valid:
        raise InvalidParameter(
            f"Invalid parameter: {protocol.upper() if protocol != 'lambda' else 'Lambda'} endpoint"
        )


def check_feedback_attribute(name: str, value: str) -> None:
    """A delivery status sample rate is a whole percentage, 0 to 100."""
    if name.endswith("SuccessFeedbackSampleRate") and not (value.isdigit() and int(value) <= 100):
        raise InvalidParameter(f"Invalid parameter: Attributes Reason: {name}: Invalid value [{value}]")


def check_subscription_attribute(name: str, value: str) -> None:
    if name not in SUBSCRIPTION_SETTABLE:
        raise InvalidParameter(f"Invalid parameter: AttributeName: {name}")
    if name == "RawMessageDelivery" and value.lower() not in ("true", "false"):
        raise InvalidParameter(
            "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [" + value + "]"
        )
    if name in ("DeliveryPolicy", "RedrivePolicy") and value:
        try:
            json.loads(value)
        except ValueError:
            raise InvalidParameter(f"Invalid parameter: {name}: not valid JSON") from None


def retry_policy(
    attributes: Mapping[str, str], topic_attributes: Mapping[str, str]
) -> tuple[int, float, float]:
    """(attempts, min delay s, max delay s) for an HTTP subscription: its DeliveryPolicy's
    healthyRetryPolicy, else the topic's, else SNS's default (3 retries 20 s apart)."""
    policy: dict[str, Any] = dict(_DEFAULT_RETRY)
    for text, keys in (
        (topic_attributes.get("DeliveryPolicy"), ("http", "defaultHealthyRetryPolicy")),
        (attributes.get("DeliveryPolicy"), ("healthyRetryPolicy",)),
    ):
        if not text:
            continue
        try:
            found: Any = json.loads(text)
            for key in keys:
                found = found.get(key) if isinstance(found, dict) else None
        except ValueError:
            found = None
        if isinstance(found, dict):
            policy = {**policy, **found}
    retries = int(policy.get("numRetries", 3))
    low = max(0.0, float(policy.get("minDelayTarget", 20)))
    high = max(low, float(policy.get("maxDelayTarget", 20)))
    return retries + 1, low, high
