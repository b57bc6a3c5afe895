"""SQS's declaration: its handlers (boto3's input in, boto3's result out, no protocol of their
own: the JSON and query wires both reach them) and each operation's IAM action on the queue's
ARN."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from stratus.queues import attributes as attrs
from stratus.queues import batches
from stratus.queues.context import SqsContext as SqsContext
from stratus.queues.digest import md5_of_attributes
from stratus.queues.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    QueueDoesNotExist,
    ReceiptHandleIsInvalid,
    ResourceNotFound,
    SqsError,
)
from stratus.queues.model import MoveTask, Queue, Received, queue_arn, split_arn
from stratus.queues.names import check_name, parse_url, queue_url
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing

TARGET_PREFIX = "AmazonSQS"
MAX_LIST = 1000


def _queue(ctx: SqsContext, params: Mapping[str, Any], region: str) -> Queue:
    account, name = parse_url(str(params.get("QueueUrl", "")))
    if account != ctx.account_id:
        raise QueueDoesNotExist()
    return ctx.queues.require(queue_arn(region, ctx.account_id, name))


def _url(ctx: SqsContext, queue: Queue) -> str:
    return queue_url(ctx.endpoint, queue.account_id, queue.name)


def _int(params: Mapping[str, Any], member: str, low: int, high: int) -> int | None:
    value = params.get(member)
    if value is None:
        return None
    if not low <= int(value) <= high:
        raise InvalidParameterValue(
            f"Value {value} for parameter {member} is invalid. Reason: Must be between {low} and "
            f"{high}, if provided."
        )
    return int(value)


# -- queues ----------------------------------------------------------------------------------


async def create_queue(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name = str(params["QueueName"])
    given = {k: str(v) for k, v in (params.get("Attributes") or {}).items()}
    fifo = given.get("FifoQueue", "false").strip().lower() == "true"
    if "FifoQueue" not in given and name.endswith(".fifo"):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    check_name(name, fifo)
    tags = params.get("tags") or {}
    queue = await ctx.queues.create(region, name, given, tags)
    return {"QueueUrl": _url(ctx, queue)}


async def get_queue_url(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    owner = params.get("QueueOwnerAWSAccountId") or ctx.account_id
    queue = ctx.queues.find(queue_arn(region, str(owner), str(params["QueueName"])))
    if queue is None:
        raise QueueDoesNotExist()
    return {"QueueUrl": _url(ctx, queue)}


def _page(names: list[str], params: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """A page of sorted names: after the NextToken's name, MaxResults of them."""
    limit = _int(params, "MaxResults", 1, MAX_LIST)
    token = params.get("NextToken")
    if token:
        try:
            after = base64.b64decode(str(token), validate=True).decode()
        except (binascii.Error, UnicodeError, ValueError):
            raise InvalidParameterValue("Invalid NextToken value.") from None
        names = [n for n in names if n > after]
    if limit is None:
        return names[:MAX_LIST], None
    page = names[:limit]
    more = len(names) > limit
    return page, base64.b64encode(page[-1].encode()).decode() if more and page else None


async def list_queues(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    found = {q.name: q for q in ctx.queues.listed(region, str(params.get("QueueNamePrefix") or ""))}
    page, token = _page(sorted(found), params)
    result: dict[str, Any] = {}
    if page:
        result["QueueUrls"] = [_url(ctx, found[n]) for n in page]
    if token:
        result["NextToken"] = token
    return result


async def list_dead_letter_source_queues(
    ctx: SqsContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    found = {q.name: q for q in ctx.queues.dead_letter_sources(queue.arn)}
    page, token = _page(sorted(found), params)
    result: dict[str, Any] = {"queueUrls": [_url(ctx, found[n]) for n in page]}
    if token:
        result["NextToken"] = token
    return result


async def get_queue_attributes(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    names = set(params.get("AttributeNames") or [])
    unknown = names - attrs.READABLE - {"All"}
    if unknown:
        raise InvalidAttributeName(f"Unknown Attribute {sorted(unknown)[0]}.")
    every = "All" in names
    out: dict[str, str] = {}
    if every or names & {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    }:
        depth = await ctx.queues.depth(queue.arn)
        out["ApproximateNumberOfMessages"] = str(depth.visible)
        out["ApproximateNumberOfMessagesNotVisible"] = str(depth.in_flight)
        out["ApproximateNumberOfMessagesDelayed"] = str(depth.delayed)
    out["CreatedTimestamp"] = str(queue.created_ms // 1000)
    out["LastModifiedTimestamp"] = str(queue.modified_ms // 1000)
    out["QueueArn"] = queue.arn
    out.update(queue.attributes)
    chosen = {k: v for k, v in out.items() if every or k in names}
    return {"Attributes": chosen} if chosen else {}


async def set_queue_attributes(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    await ctx.queues.set_attributes(queue.arn, {k: str(v) for k, v in params["Attributes"].items()})
    return {}


async def delete_queue(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.queues.delete_queue(_queue(ctx, params, region).arn)
    return {}


async def purge_queue(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.queues.purge(_queue(ctx, params, region).arn)
    return {}


async def tag_queue(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.queues.set_tags(_queue(ctx, params, region).arn, params["Tags"])
    return {}


async def untag_queue(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.queues.set_tags(_queue(ctx, params, region).arn, {}, params["TagKeys"])
    return {}


async def list_queue_tags(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    return {"Tags": dict(queue.tags)} if queue.tags else {}


# -- messages --------------------------------------------------------------------------------


async def send_message(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    return await batches.send_one(ctx.queues, queue, params)


async def send_message_batch(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    entries = params["Entries"]
    batches.check_entries(entries)
    batches.check_batch_size(entries)
    outcomes = await asyncio.gather(
        *(batches.send_one(ctx.queues, queue, entry) for entry in entries), return_exceptions=True
    )
    return batches.answer(entries, outcomes)


def _wanted(names: list[str], available: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes asked for: "All", ".*", "prefix.*" or exact names."""
    if not names:
        return {}
    out: dict[str, Any] = {}
    for key, value in available.items():
        for name in names:
            if name in ("All", ".*") or name == key or (name.endswith(".*") and key.startswith(name[:-1])):
                out[key] = value
                break
    return out


def _message(received: Received, system_names: list[str], attribute_names: list[str]) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "MessageId": received.message_id,
        "ReceiptHandle": received.receipt_handle,
        "MD5OfBody": received.md5_of_body,
        "Body": received.body,
    }
    system = _wanted(system_names, received.attributes)
    if system:
        shape["Attributes"] = system
    chosen = _wanted(attribute_names, received.message_attributes)
    if chosen:
        shape["MessageAttributes"] = chosen
        # Of the attributes answered: SDKs check the digest against what they got.
        shape["MD5OfMessageAttributes"] = md5_of_attributes(chosen)
    return shape


async def receive_message(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    count = _int(params, "MaxNumberOfMessages", 1, 10) or 1
    visibility = _int(params, "VisibilityTimeout", 0, 43_200)
    wait = _int(params, "WaitTimeSeconds", 0, 20)
    system_names = [*(params.get("AttributeNames") or []), *(params.get("MessageSystemAttributeNames") or [])]
    received = await ctx.queues.receive(
        queue.arn,
        count,
        visibility_timeout_s=visibility,
        wait_s=float(queue.wait_s if wait is None else wait),
    )
    attribute_names = list(params.get("MessageAttributeNames") or [])
    messages = [_message(r, system_names, attribute_names) for r in received]
    return {"Messages": messages} if messages else {}


async def delete_message(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    handle = str(params["ReceiptHandle"])
    (outcome,) = await ctx.queues.delete(queue.arn, [handle])
    if outcome is not None:
        raise ReceiptHandleIsInvalid(f'The input receipt handle "{handle}" is not a valid receipt handle.')
    return {}


async def delete_message_batch(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    entries = params["Entries"]
    batches.check_entries(entries)
    outcomes = await ctx.queues.delete(queue.arn, [str(e["ReceiptHandle"]) for e in entries])
    successful, failed = [], []
    for entry, code in zip(entries, outcomes, strict=True):
        if code is None:
            successful.append({"Id": entry["Id"]})
        else:
            failed.append(
                {
                    "Id": entry["Id"],
                    "SenderFault": True,
                    "Code": code,
                    "Message": "The receipt handle is not valid.",
                }
            )
    return {"Successful": successful, "Failed": failed}


async def change_message_visibility(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    await ctx.queues.change_visibility(
        queue.arn, str(params["ReceiptHandle"]), int(params["VisibilityTimeout"])
    )
    return {}


async def change_message_visibility_batch(
    ctx: SqsContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    queue = _queue(ctx, params, region)
    entries = params["Entries"]
    batches.check_entries(entries)

    async def one(entry: Mapping[str, Any]) -> None:
        await ctx.queues.change_visibility(
            queue.arn, str(entry["ReceiptHandle"]), int(entry.get("VisibilityTimeout") or 0)
        )

    outcomes = await asyncio.gather(*(one(e) for e in entries), return_exceptions=True)
    successful, failed = [], []
    for entry, outcome in zip(entries, outcomes, strict=True):
        if isinstance(outcome, SqsError):
            failed.append(
                {"Id": entry["Id"], "SenderFault": True, "Code": outcome.code, "Message": outcome.message}
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            successful.append({"Id": entry["Id"]})
    return {"Successful": successful, "Failed": failed}


# -- message move tasks ------------------------------------------------------------------------


def _task_shape(task: MoveTask) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Status": task.status,
        "SourceArn": task.source_arn,
        "ApproximateNumberOfMessagesMoved": task.moved,
        "ApproximateNumberOfMessagesToMove": task.to_move,
        "StartedTimestamp": task.started_ms,
    }
    if task.status == "RUNNING":
        shape["TaskHandle"] = task.handle
    if task.destination_arn:
        shape["DestinationArn"] = task.destination_arn
    if task.rate is not None:
        shape["MaxNumberOfMessagesPerSecond"] = task.rate
    if task.failure:
        shape["FailureReason"] = task.failure
    return shape


async def start_message_move_task(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rate = params.get("MaxNumberOfMessagesPerSecond")
    task = ctx.queues.moves.start(
        str(params["SourceArn"]), params.get("DestinationArn"), None if rate is None else int(rate)
    )
    return {"TaskHandle": task.handle}


async def list_message_move_tasks(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    limit = _int(params, "MaxResults", 1, 10) or 1
    return {"Results": [_task_shape(t) for t in ctx.queues.moves.listed(str(params["SourceArn"]), limit)]}


async def cancel_message_move_task(ctx: SqsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    task = ctx.queues.moves.cancel(str(params["TaskHandle"]))
    return {"ApproximateNumberOfMessagesMoved": task.moved}


HANDLERS: dict[str, Handler[SqsContext]] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "DeleteQueue": delete_queue,
    "PurgeQueue": purge_queue,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
    "StartMessageMoveTask": start_message_move_task,
    "ListMessageMoveTasks": list_message_move_tasks,
    "CancelMessageMoveTask": cancel_message_move_task,
}

# -- authorization ---------------------------------------------------------------------------
# The Service Authorization Reference for SQS: every action but ListQueues acts on a queue
# (`arn:aws:sqs:REGION:ACCOUNT:NAME`); SendMessageBatch is authorized as sqs:SendMessage,
# DeleteMessageBatch as sqs:DeleteMessage, ChangeMessageVisibilityBatch as
# sqs:ChangeMessageVisibility.

_SAME_AS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# A queue's URL path, to which query-era clients post their forms.
QUEUE_PATH = re.compile(r"/[0-9]{12}/[A-Za-z0-9_-]{1,80}(?:\.fifo)?")


def _on_url(operation: str) -> Authorization:
    action = f"sqs:{_SAME_AS.get(operation, operation)}"

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        url = str(params.get("QueueUrl", ""))
        try:
            owner, name = parse_url(url)
        except SqsError:  # answered by the handler; authorized as the queue it would name
            owner, name = account, url.rstrip("/").rpartition("/")[2]
        return action, queue_arn(region, owner, name)

    return authorize


def _on_name(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        owner = str(params.get("QueueOwnerAWSAccountId") or account)
        return f"sqs:{operation}", queue_arn(region, owner, str(params.get("QueueName", "")))

    return authorize


def _on_arn(operation: str, member: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"sqs:{operation}", _as_queue_arn(str(params.get(member, "")), region, account)

    return authorize


def _on_task(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    try:
        source = str(json.loads(base64.b64decode(str(params.get("TaskHandle", "")))).get("sourceArn", ""))
    except (ValueError, binascii.Error, AttributeError):
        source = ""
    return "sqs:CancelMessageMoveTask", _as_queue_arn(source, region, account)


def _as_queue_arn(text: str, region: str, account: str) -> str:
    """A queue ARN as given, or what a malformed one would name (its handler refuses it)."""
    return text if split_arn(text) else queue_arn(region, account, text.rpartition(":")[2] or "-")


def _any_queue(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "sqs:ListQueues", "*"


AUTHORIZATION: dict[str, Authorization] = {
    **{
        op: _on_url(op)
        for op in HANDLERS
        if op not in ("CreateQueue", "GetQueueUrl", "ListQueues") and "MoveTask" not in op
    },
    "CreateQueue": _on_name("CreateQueue"),
    "GetQueueUrl": _on_name("GetQueueUrl"),
    "ListQueues": _any_queue,
    "StartMessageMoveTask": _on_arn("StartMessageMoveTask", "SourceArn"),
    "ListMessageMoveTasks": _on_arn("ListMessageMoveTasks", "SourceArn"),
    "CancelMessageMoveTask": _on_task,
}

def queue_policy(ctx: SqsContext, arn: str) -> str | None:
    """The access policy a queue carries, if one was set."""
    queue = ctx.queues.find(arn)
    return (queue.attributes.get("Policy") or None) if queue is not None else None


SERVICE = Service[SqsContext](
    model="sqs",
    signing=Signing(
        "sqs",
        targets=(TARGET_PREFIX,),
        query_protocol=True,
        query_path=QUEUE_PATH,
        query_path_member="QueueUrl",
    ),
    handlers=HANDLERS,
    validation_error="InvalidParameterValue",
    missing_error="MissingParameter",
    protocols=("json", "query"),
    authorization=AUTHORIZATION,
    # A queue's access policy (its Policy attribute) is evaluated with the caller's own.
    resource_policy=lambda ctx, arn: queue_policy(ctx, arn),
    # ReceiveMessage's AttributeNames takes message system attribute names (SentTimestamp...),
    # which the model's queue-attribute enum leaves out; GetQueueAttributes checks its own.
    unchecked_enums=frozenset({"QueueAttributeName"}),
)

__all__ = ["SERVICE", "ResourceNotFound", "SqsContext"]
