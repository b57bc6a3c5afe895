"""SNS's API (query protocol, signed for "sns"), declared as `SERVICE`: topics, subscriptions,
Publish and PublishBatch, tags. Authorization is `sns:<Action>` on the topic's ARN."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from stratus.topics.context import SnsContext
from stratus.topics.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameter,
    NotFound,
    ResourceNotFound,
    SnsError,
    TagLimitExceeded,
    TooManyEntriesInBatchRequest,
)
from stratus.topics.messages import MAX_MESSAGE_BYTES
from stratus.topics.model import (
    DEFAULT_DELIVERY_POLICY,
    TOPIC_NAME,
    TOPIC_SETTABLE,
    check_endpoint,
    check_feedback_attribute,
    check_subscription_attribute,
    default_policy,
    retry_policy,
    topic_arn,
    topic_of_subscription,
)
from stratus.wire.service import Service
from stratus.wire.signing import Signing

PAGE = 100
MAX_TAGS = 50
BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


async def create_topic(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name = params["Name"]
    attributes = dict(params.get("Attributes") or {})
    fifo = attributes.get("FifoTopic", "false").lower() == "true"
    base = name.removesuffix(".fifo") if fifo else name
    if not TOPIC_NAME.match(base) or (fifo != name.endswith(".fifo")):
        raise InvalidParameter("Invalid parameter: Topic Name")
    for key in attributes:
        if key not in TOPIC_SETTABLE:
            raise InvalidParameter(f"Invalid parameter: Attributes Reason: Unknown attribute {key}")
        check_feedback_attribute(key, attributes[key])
    if "ContentBasedDeduplication" in attributes and not fifo:
        raise InvalidParameter(
            "Invalid parameter: Attributes Reason: "
            "Content-based deduplication can only be set for FIFO topics"
        )
    for key in ("FifoTopic", "ContentBasedDeduplication"):
        if key in attributes:
            attributes[key] = attributes[key].lower()
    tags = {t["Key"]: t["Value"] for t in params.get("Tags") or []}
    if len(tags) > MAX_TAGS:
        raise TagLimitExceeded("Could not complete request: tag quota of per resource exceeded")
    topic = await ctx.topics.create_topic(region, name, attributes, tags)
    return {"TopicArn": topic.arn}


async def list_topics(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    arns = [t.arn for t in ctx.topics.topics(region)]
    start = _page_start(params.get("NextToken"))
    out: dict[str, Any] = {"Topics": [{"TopicArn": a} for a in arns[start : start + PAGE]]}
    if start + PAGE < len(arns):
        out["NextToken"] = str(start + PAGE)
    return out


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidParameter("Invalid parameter: NextToken")
    return int(token)


async def get_topic_attributes(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = ctx.topics.topic(params["TopicArn"])
    confirmed, pending = ctx.topics.counts(topic.arn)
    attributes = {
        "TopicArn": topic.arn,
        "Owner": topic.account_id,
        "Policy": default_policy(topic.arn, topic.account_id),
        "DisplayName": "",
        "SubscriptionsConfirmed": str(confirmed),
        "SubscriptionsPending": str(pending),
        "SubscriptionsDeleted": "0",
        "EffectiveDeliveryPolicy": json.dumps(DEFAULT_DELIVERY_POLICY),
        **({"FifoTopic": "true", "ContentBasedDeduplication": "false"} if topic.fifo else {}),
        **topic.attributes,
    }
    if not topic.fifo:
        attributes.pop("FifoTopic", None)
    return {"Attributes": attributes}


async def set_topic_attributes(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = ctx.topics.topic(params["TopicArn"])
    name, value = params["AttributeName"], params.get("AttributeValue") or ""
    if name not in TOPIC_SETTABLE or name == "FifoTopic":
        raise InvalidParameter("Invalid parameter: AttributeName")
    check_feedback_attribute(name, value)
    if name == "ContentBasedDeduplication":
        if not topic.fifo:
            raise InvalidParameter(
                "Invalid parameter: Attributes Reason: "
                "Content-based deduplication can only be set for FIFO topics"
            )
        value = value.lower()
    if name in ("Policy", "DeliveryPolicy") and value:
        try:
            json.loads(value)
        except ValueError:
            raise InvalidParameter(f"Invalid parameter: {name}: not valid JSON") from None
    await ctx.topics.update_topic(topic.arn, lambda t: replace(t, attributes={**t.attributes, name: value}))
    return {}


async def delete_topic(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.topics.delete_topic(params["TopicArn"])
    return {}


async def subscribe(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = ctx.topics.topic(params["TopicArn"])
    protocol = params["Protocol"].lower()
    endpoint = params.get("Endpoint") or ""
    check_endpoint(protocol, endpoint)
    if topic.fifo and protocol != "sqs":
        raise InvalidParameter(f"Invalid parameter: Invalid protocol type: {protocol} for a FIFO topic")
    # A FIFO topic may deliver to a standard queue (SNS allows it since September 2023: order
    # and exactly-once are then not kept); a standard topic may not deliver to a FIFO queue.
    if protocol == "sqs" and not topic.fifo and endpoint.endswith(".fifo"):
        raise InvalidParameter(
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
            "subscribed to standard SNS topics"
        )
    attributes = dict(params.get("Attributes") or {})
    for key, value in attributes.items():
        check_subscription_attribute(key, value)
    sub = await ctx.topics.subscribe(topic.arn, protocol, endpoint, attributes)
    if not sub.confirmed and not params.get("ReturnSubscriptionArn"):
        return {"SubscriptionArn": "pending confirmation"}
    return {"SubscriptionArn": sub.arn}


async def confirm_subscription(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    sub = await ctx.topics.confirm(params["TopicArn"], params["Token"])
    return {"SubscriptionArn": sub.arn}


async def get_subscription_attributes(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    sub = ctx.topics.subscription(params["SubscriptionArn"])
    topic = ctx.topics.topic(sub.topic_arn)
    attributes = {
        "SubscriptionArn": sub.arn,
        "TopicArn": sub.topic_arn,
        "Owner": sub.owner,
        "Protocol": sub.protocol,
        "Endpoint": sub.endpoint,
        "ConfirmationWasAuthenticated": "true" if sub.confirmed else "false",
        "PendingConfirmation": "false" if sub.confirmed else "true",
        "RawMessageDelivery": "false",
        **sub.attributes,
    }
    if sub.protocol in ("http", "https"):
        attempts, low, high = retry_policy(sub.attributes, topic.attributes)
        attributes["EffectiveDeliveryPolicy"] = json.dumps(
            {
                "healthyRetryPolicy": {
                    "numRetries": attempts - 1,
                    "minDelayTarget": low,
                    "maxDelayTarget": high,
                }
            }
        )
    if sub.attributes.get("FilterPolicy"):
        attributes.setdefault("FilterPolicyScope", "MessageAttributes")
    return {"Attributes": attributes}


async def set_subscription_attributes(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name, value = params["AttributeName"], params.get("AttributeValue") or ""
    check_subscription_attribute(name, value)
    sub = ctx.topics.subscription(params["SubscriptionArn"])
    if name == "RawMessageDelivery" and sub.protocol not in ("sqs", "http", "https", "firehose"):
        raise InvalidParameter(
            "Invalid parameter: Delivery protocol [lambda] does not support raw message delivery."
        )
    await ctx.topics.set_subscription_attributes(sub.arn, {name: value})
    return {}


async def unsubscribe(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.topics.unsubscribe(params["SubscriptionArn"])
    return {}


def _subscription_list(subs: list[Any], token: str | None) -> dict[str, Any]:
    start = _page_start(token)
    page = subs[start : start + PAGE]
    out: dict[str, Any] = {
        "Subscriptions": [
            {
                "SubscriptionArn": s.arn if s.confirmed else "PendingConfirmation",
                "Owner": s.owner,
                "Protocol": s.protocol,
                "Endpoint": s.endpoint,
                "TopicArn": s.topic_arn,
            }
            for s in page
        ]
    }
    if start + PAGE < len(subs):
        out["NextToken"] = str(start + PAGE)
    return out


async def list_subscriptions(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return _subscription_list(ctx.topics.subscriptions(region), params.get("NextToken"))


async def list_subscriptions_by_topic(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = ctx.topics.topic(params["TopicArn"])
    return _subscription_list(ctx.topics.subscriptions(region, topic.arn), params.get("NextToken"))


def _publish_target(params: Mapping[str, Any]) -> str:
    if params.get("PhoneNumber"):
        raise InvalidParameter("Invalid parameter: PhoneNumber: SMS is not supported by Stratus")
    arn = params.get("TopicArn") or params.get("TargetArn")
    if not arn:
        raise InvalidParameter(
            "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
        )
    return str(arn)


async def publish(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    message_id, sequence = await ctx.topics.publish_entry(
        _publish_target(params),
        params["Message"],
        params.get("Subject"),
        params.get("MessageAttributes") or {},
        params.get("MessageStructure"),
        params.get("MessageGroupId"),
        params.get("MessageDeduplicationId"),
    )
    out = {"MessageId": message_id}
    if sequence is not None:
        out["SequenceNumber"] = sequence
    return out


async def publish_batch(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = ctx.topics.topic(params["TopicArn"])
    entries = params.get("PublishBatchRequestEntries") or []
    if not entries:
        raise EmptyBatchRequest("The batch request doesn't contain any entries")
    if len(entries) > 10:
        raise TooManyEntriesInBatchRequest("The batch request contains more entries than permissible")
    ids = [e["Id"] for e in entries]
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct("Two or more batch entries in the request have the same Id")
    for entry_id in ids:
        if not BATCH_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "The Id of a batch entry in a batch request doesn't abide by the specification"
            )
    if sum(len(e.get("Message", "").encode()) for e in entries) > MAX_MESSAGE_BYTES:
        raise BatchRequestTooLong("The length of all the messages put together is more than the limit")
    successful, failed = [], []
    for entry in entries:
        try:
            message_id, sequence = await ctx.topics.publish_entry(
                topic.arn,
                entry["Message"],
                entry.get("Subject"),
                entry.get("MessageAttributes") or {},
                entry.get("MessageStructure"),
                entry.get("MessageGroupId"),
                entry.get("MessageDeduplicationId"),
            )
        except SnsError as e:
            failed.append({"Id": entry["Id"], "Code": e.code, "Message": e.message, "SenderFault": True})
            continue
        ok = {"Id": entry["Id"], "MessageId": message_id}
        if sequence is not None:
            ok["SequenceNumber"] = sequence
        successful.append(ok)
    return {"Successful": successful, "Failed": failed}


def _tagged(ctx: SnsContext, arn: str) -> Any:
    topic = ctx.topics.find(arn)
    if topic is None:
        raise ResourceNotFound("Resource does not exist")
    return topic


async def tag_resource(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = _tagged(ctx, params["ResourceArn"])
    given = {t["Key"]: t["Value"] for t in params["Tags"]}

    def tagged(current: Any) -> Any:
        tags = {**current.tags, **given}
        if len(tags) > MAX_TAGS:
            raise TagLimitExceeded("Could not complete request: tag quota of per resource exceeded")
        return replace(current, tags=tags)

    await ctx.topics.update_topic(topic.arn, tagged)
    return {}


async def untag_resource(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = _tagged(ctx, params["ResourceArn"])
    gone = set(params["TagKeys"])
    await ctx.topics.update_topic(
        topic.arn, lambda t: replace(t, tags={k: v for k, v in t.tags.items() if k not in gone})
    )
    return {}


async def list_tags_for_resource(ctx: SnsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    topic = _tagged(ctx, params["ResourceArn"])
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(topic.tags.items())]}


def _on_topic(action: str, member: str = "TopicArn") -> Any:
    def resource(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"sns:{action}", str(params.get(member) or "*")

    return resource


def _create_topic_resource(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "sns:CreateTopic", topic_arn(region, account, str(params.get("Name", "")))


def _publish_resource(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "sns:Publish", str(params.get("TopicArn") or params.get("TargetArn") or "*")


def _on_subscription(action: str) -> Any:
    def resource(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        arn = str(params.get("SubscriptionArn", ""))
        return f"sns:{action}", topic_of_subscription(arn) or "*"

    return resource


def topic_policy(ctx: SnsContext, arn: str) -> str | None:
    """The access policy set on a topic, if any (the default one grants nothing SNS's own
    callers need here: its condition names the account as the source owner)."""
    topic = ctx.topics.find(arn)
    return (topic.attributes.get("Policy") or None) if topic is not None else None


SERVICE = Service[SnsContext](
    model="sns",
    signing=Signing("sns", query_protocol=True),
    access_denied_code="AuthorizationError",
    # A topic's access policy (its Policy attribute, once set) is evaluated with the caller's own.
    resource_policy=lambda ctx, arn: topic_policy(ctx, arn),
    handlers={
        "CreateTopic": create_topic,
        "ListTopics": list_topics,
        "GetTopicAttributes": get_topic_attributes,
        "SetTopicAttributes": set_topic_attributes,
        "DeleteTopic": delete_topic,
        "Subscribe": subscribe,
        "ConfirmSubscription": confirm_subscription,
        "GetSubscriptionAttributes": get_subscription_attributes,
        "SetSubscriptionAttributes": set_subscription_attributes,
        "Unsubscribe": unsubscribe,
        "ListSubscriptions": list_subscriptions,
        "ListSubscriptionsByTopic": list_subscriptions_by_topic,
        "Publish": publish,
        "PublishBatch": publish_batch,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
    },
    validation_error="InvalidParameter",
    protocols=("query",),
    authorization={
        "CreateTopic": _create_topic_resource,
        "GetTopicAttributes": _on_topic("GetTopicAttributes"),
        "SetTopicAttributes": _on_topic("SetTopicAttributes"),
        "DeleteTopic": _on_topic("DeleteTopic"),
        "Subscribe": _on_topic("Subscribe"),
        "ConfirmSubscription": _on_topic("ConfirmSubscription"),
        "ListSubscriptionsByTopic": _on_topic("ListSubscriptionsByTopic"),
        "Publish": _publish_resource,
        "PublishBatch": _on_topic("Publish"),
        "GetSubscriptionAttributes": _on_subscription("GetSubscriptionAttributes"),
        "SetSubscriptionAttributes": _on_subscription("SetSubscriptionAttributes"),
        "Unsubscribe": _on_subscription("Unsubscribe"),
        "TagResource": _on_topic("TagResource", "ResourceArn"),
        "UntagResource": _on_topic("UntagResource", "ResourceArn"),
        "ListTagsForResource": _on_topic("ListTagsForResource", "ResourceArn"),
    },
)

__all__ = ["SERVICE", "NotFound"]
