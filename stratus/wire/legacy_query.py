"""The query protocol of services that have since moved to JSON (SQS): the wire names their
query-era clients still send and expect.

botocore's current SQS model is JSON only. It keeps the query protocol's `flattened` traits
but not the element names: a query-era client (an older boto3, the AWS SDK for Java 1.x, many
tools built on them) sends `Attribute.1.Name=VisibilityTimeout` and reads
`<Message><Attribute><Name>SenderId</Name>...`, and its error codes are the old ones
(`AWS.SimpleQueueService.NonExistentQueue`, not `QueueDoesNotExist`). Those names are facts
of the 2012-11-05 query API; this module records them and lays them over the current model,
so one model, and one set of handlers, serves both protocols.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ServiceModel

# The authentication and authorization codes the JSON protocols use, as the query-era and
# REST-XML services (IAM, STS, CloudWatch, S3, SQS's query API) spell them.
AUTH_CODES = {
    "AccessDeniedException": "AccessDenied",
    "ExpiredTokenException": "ExpiredToken",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
}


@dataclass(frozen=True)
class QueryNames:
    """What the query protocol names differently from a JSON-era model."""

    xml_namespace: str
    # (structure, member) -> the member's element name.
    members: dict[tuple[str, str], str] = field(default_factory=dict)
    # list shape -> the element name of its items.
    list_items: dict[str, str] = field(default_factory=dict)
    # map shape -> the element names of its keys and values.
    map_entries: dict[str, tuple[str, str]] = field(default_factory=dict)
    # error shape -> the code query clients match on.
    error_codes: dict[str, str] = field(default_factory=dict)


_OLD = "AWS.SimpleQueueService."

SQS = QueryNames(
    xml_namespace="http://queue.amazonaws.com/doc/2012-11-05/",
    members={
        ("CreateQueueRequest", "Attributes"): "Attribute",
        ("CreateQueueRequest", "tags"): "Tag",
        ("SetQueueAttributesRequest", "Attributes"): "Attribute",
        ("GetQueueAttributesResult", "Attributes"): "Attribute",
        ("ListQueueTagsResult", "Tags"): "Tag",
        ("Message", "Attributes"): "Attribute",
        ("Message", "MessageAttributes"): "MessageAttribute",
        ("SendMessageRequest", "MessageAttributes"): "MessageAttribute",
        ("SendMessageRequest", "MessageSystemAttributes"): "MessageSystemAttribute",
        ("SendMessageBatchRequestEntry", "MessageAttributes"): "MessageAttribute",
        ("SendMessageBatchRequestEntry", "MessageSystemAttributes"): "MessageSystemAttribute",
        ("MessageAttributeValue", "StringListValues"): "StringListValue",
        ("MessageAttributeValue", "BinaryListValues"): "BinaryListValue",
        ("MessageSystemAttributeValue", "StringListValues"): "StringListValue",
        ("MessageSystemAttributeValue", "BinaryListValues"): "BinaryListValue",
    },
    list_items={
        "AWSAccountIdList": "AWSAccountId",
        "ActionNameList": "ActionName",
        "AttributeNameList": "AttributeName",
        "BatchResultErrorEntryList": "BatchResultErrorEntry",
        "BinaryList": "BinaryListValue",
        "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
        "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
        "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
        "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
        "ListMessageMoveTasksResultEntryList": "ListMessageMoveTasksResultEntry",
        "MessageAttributeNameList": "MessageAttributeName",
        "MessageList": "Message",
        # Newer than the query API; named as its siblings are.
        "MessageSystemAttributeList": "MessageSystemAttributeName",
        "QueueUrlList": "QueueUrl",
        "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
        "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
        "StringList": "StringListValue",
        "TagKeyList": "TagKey",
    },
    map_entries={
        "MessageBodyAttributeMap": ("Name", "Value"),
        "MessageBodySystemAttributeMap": ("Name", "Value"),
        "MessageSystemAttributeMap": ("Name", "Value"),
        "QueueAttributeMap": ("Name", "Value"),
        "TagMap": ("Key", "Value"),
    },
    error_codes={
        "BatchEntryIdsNotDistinct": _OLD + "BatchEntryIdsNotDistinct",
        "BatchRequestTooLong": _OLD + "BatchRequestTooLong",
        "EmptyBatchRequest": _OLD + "EmptyBatchRequest",
        "InvalidBatchEntryId": _OLD + "InvalidBatchEntryId",
        "MessageNotInflight": _OLD + "MessageNotInflight",
        "PurgeQueueInProgress": _OLD + "PurgeQueueInProgress",
        "QueueDeletedRecently": _OLD + "QueueDeletedRecently",
        "QueueDoesNotExist": _OLD + "NonExistentQueue",
        "QueueNameExists": "QueueAlreadyExists",
        "TooManyEntriesInBatchRequest": _OLD + "TooManyEntriesInBatchRequest",
        "UnsupportedOperation": _OLD + "UnsupportedOperation",
    },
)

# Services whose model no longer lists "query" but whose query-era clients are still served.
LEGACY: dict[str, QueryNames] = {"sqs": SQS}


def overlaid(description: dict[str, Any], names: QueryNames) -> dict[str, Any]:
    """A copy of a JSON-era service description with the query protocol's names laid over it:
    what `QueryProtocol` reads and writes for that service's query-era clients."""
    out = copy.deepcopy(description)
    out["metadata"] = {**out["metadata"], "protocol": "query", "protocols": ["query"]}
    out["metadata"]["xmlNamespace"] = names.xml_namespace
    shapes: dict[str, Any] = out["shapes"]
    # A query answer wraps its output in <OperationResult>, which the JSON model no longer says.
    for name, operation in out["operations"].items():
        if operation.get("output"):
            operation["output"] = {**operation["output"], "resultWrapper": f"{name}Result"}
    for (structure, member), name in names.members.items():
        shapes[structure]["members"][member]["locationName"] = name
    for shape, item in names.list_items.items():
        shapes[shape]["member"]["locationName"] = item
    for shape, (key, value) in names.map_entries.items():
        shapes[shape]["key"]["locationName"] = key
        shapes[shape]["value"]["locationName"] = value
    for shape, code in names.error_codes.items():
        error = dict(shapes[shape].get("error") or {})
        shapes[shape]["error"] = {**error, "code": code}
    return out


def query_code(service: ServiceModel, code: str) -> str:
    """The code a query-era client expects for an error a handler raised under its shape name
    (`QueueDoesNotExist` -> `AWS.SimpleQueueService.NonExistentQueue`); other codes as they are."""
    if code in AUTH_CODES:  # SQS over JSON: `AccessDenied` in the header, as over query
        return AUTH_CODES[code]
    legacy = LEGACY.get(service.service_name)
    if legacy is not None and code in legacy.error_codes:
        return legacy.error_codes[code]
    if code not in service.shape_names:
        return code
    shape = service.shape_for(code)
    if not shape.metadata.get("exception"):
        return code
    return str((shape.metadata.get("error") or {}).get("code", code))
