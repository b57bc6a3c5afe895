"""Bucket notification configurations: which are accepted (`validate`, with S3's own refusals)
and which functions one object change goes to (`route`). Pure: the checks against the rest of
the platform (does the function exist, may S3 invoke it) are passed in.

The stored form is boto3's NotificationConfiguration dict as JSON, normalised (every
configuration has an Id, filter rule names are spelled "Prefix"/"Suffix" as S3 answers them),
so GetBucketNotificationConfiguration answers it as it is."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from stratus.buckets.errors import InvalidArgument
from stratus.buckets.model import Delivery, ObjectChange
from stratus.buckets.records import event_record

# The event types a Lambda configuration may name: what this store emits, and their wildcards.
CREATED = ("Put", "Post", "Copy", "CompleteMultipartUpload")
REMOVED = ("Delete", "DeleteMarkerCreated")
EVENTS: dict[str, frozenset[str]] = {
    "s3:ObjectCreated:*": frozenset(f"ObjectCreated:{e}" for e in CREATED),
    "s3:ObjectRemoved:*": frozenset(f"ObjectRemoved:{e}" for e in REMOVED),
    **{f"s3:ObjectCreated:{e}": frozenset({f"ObjectCreated:{e}"}) for e in CREATED},
    **{f"s3:ObjectRemoved:{e}": frozenset({f"ObjectRemoved:{e}"}) for e in REMOVED},
}

EVENTBRIDGE = "EventBridgeConfiguration"  # `{}`: every change also goes to the default bus
# Each kind of configuration and the member naming its target.
KINDS = {
    "LambdaFunctionConfigurations": "LambdaFunctionArn",
    "QueueConfigurations": "QueueArn",
    "TopicConfigurations": "TopicArn",
}
# What S3 says of a target it may not deliver to, by the target's service.
_REFUSED = {
    "lambda": "Not authorized to invoke function [{arn}]",
    "sqs": "Permissions on the destination queue do not allow S3 to publish notifications from this bucket",
    "sns": "Permissions on the destination topic do not allow S3 to publish notifications from this bucket",
}


@dataclass(frozen=True)
class Rule:
    """One configuration (a function's, a queue's or a topic's), ready to match: the concrete
    events it covers and its filter."""

    id: str
    arn: str
    events: frozenset[str]
    prefix: str
    suffix: str

    def matches(self, event: str, key: str) -> bool:
        # Filters apply to the raw key (S3 documents them on the key name, not its encoding).
        return event in self.events and key.startswith(self.prefix) and key.endswith(self.suffix)


def validate(
    config: Mapping[str, Any],
    *,
    region: str,
    account_id: str,
    function_exists: Callable[[str], bool],
    s3_may_invoke: Callable[[str, str, str], bool],
    bucket: str,
    s3_may_send: Callable[[str, str], bool],
) -> str:
    """The JSON text to store for a bucket in `region`, or InvalidArgument as S3 refuses it.
    No configuration: "" (the bucket has no notifications)."""
    stored: dict[str, Any] = {}
    if config.get(EVENTBRIDGE) is not None:  # `{}` turns EventBridge delivery on
        stored[EVENTBRIDGE] = {}
    rules: list[Rule] = []
    for kind, arn_key in KINDS.items():
        for item in config.get(kind) or ():
            entry, rule = _one(item, arn_key)
            stored.setdefault(kind, []).append(entry)
            rules.append(rule)
    _no_overlap(rules)
    _destinations(
        rules,
        region=region,
        account_id=account_id,
        bucket=bucket,
        function_exists=function_exists,
        s3_may_invoke=s3_may_invoke,
        s3_may_send=s3_may_send,
    )
    if not stored:
        return ""
    return json.dumps(stored, separators=(",", ":"))


def _one(item: Mapping[str, Any], arn_key: str) -> tuple[dict[str, Any], Rule]:
    arn = str(item.get(arn_key) or "")
    events = list(item.get("Events") or ())
    if not events:
        raise InvalidArgument("The event is not supported for notifications", ArgumentName="Event")
    covered: set[str] = set()
    for event in events:
        if event not in EVENTS:
            raise InvalidArgument(
                "The event is not supported for notifications",
                ArgumentName="Event",
                ArgumentValue=str(event),
            )
        covered |= EVENTS[event]
    prefix: str | None = None
    suffix: str | None = None
    rules_in = ((item.get("Filter") or {}).get("Key") or {}).get("FilterRules") or ()
    for fr in rules_in:
        name = str(fr.get("Name") or "").lower()
        value = str(fr.get("Value") or "")
        if name == "prefix":
            if prefix is not None:
                raise InvalidArgument(
                    "Cannot specify more than one prefix rule in a filter.",
                    ArgumentName="FilterRule.Name",
                    ArgumentValue="prefix",
                )
            prefix = value
        elif name == "suffix":
            if suffix is not None:
                raise InvalidArgument(
                    "Cannot specify more than one suffix rule in a filter.",
                    ArgumentName="FilterRule.Name",
                    ArgumentValue="suffix",
                )
            suffix = value
        else:
            raise InvalidArgument(
                "filter rule name must be either prefix or suffix",
                ArgumentName="FilterRule.Name",
                ArgumentValue=str(fr.get("Name") or ""),
            )
    config_id = str(item.get("Id") or "") or _new_id()
    entry: dict[str, Any] = {"Id": config_id, arn_key: arn, "Events": events}
    filter_rules = [{"Name": "Prefix", "Value": prefix}] if prefix is not None else []
    if suffix is not None:
        filter_rules.append({"Name": "Suffix", "Value": suffix})
    if filter_rules:
        entry["Filter"] = {"Key": {"FilterRules": filter_rules}}
    return entry, Rule(config_id, arn, frozenset(covered), prefix or "", suffix or "")


def _new_id() -> str:
    # AWS generates an opaque id when none is given; any unique string serves.
    return str(uuid.uuid4())


def _no_overlap(rules: Sequence[Rule]) -> None:
    """S3 refuses two configurations that could both fire for one change: a common event
    type and filters that can both match one key (one prefix a prefix of the other, one
    suffix a suffix of the other; an absent filter matches everything)."""
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            common = a.events & b.events
            if not common:
                continue
            prefixes = a.prefix.startswith(b.prefix) or b.prefix.startswith(a.prefix)
            suffixes = a.suffix.endswith(b.suffix) or b.suffix.endswith(a.suffix)
            if not (prefixes and suffixes):
                continue
            if (a.prefix, a.suffix) == (b.prefix, b.suffix):
                raise InvalidArgument(
                    "Configurations overlap. Configurations on the same bucket cannot share "
                    "a common event type.",
                    ArgumentName="Event",
                    ArgumentValue=", ".join(sorted(f"s3:{e}" for e in common)),
                )
            raise InvalidArgument(
                "Configuration is ambiguously defined. Cannot have overlapping suffixes in two "
                "rules if the prefixes are overlapping for the same event type.",
                ArgumentName="FilterRule",
            )


def _destinations(
    rules: Sequence[Rule],
    *,
    region: str,
    account_id: str,
    bucket: str,
    function_exists: Callable[[str], bool],
    s3_may_invoke: Callable[[str, str, str], bool],
    s3_may_send: Callable[[str, str], bool],
) -> None:
    """S3 checks each target before accepting: it must be in the bucket's region; a function's
    policy must let s3.amazonaws.com invoke it for this bucket, and a queue's or topic's access
    policy must let s3.amazonaws.com send or publish to it for this bucket. A target that does
    not exist fails the same check (S3 cannot tell the two apart either)."""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    failed: list[tuple[str, str]] = []
    for rule in rules:
        parts = rule.arn.split(":")
        service = parts[2] if len(parts) >= 6 and parts[:2] == ["arn", "aws"] else ""
        if service == "lambda" and (len(parts) < 7 or parts[5] != "function"):
            service = ""
        if service not in _REFUSED:
            raise InvalidArgument("The ARN is not well formed", ArgumentName="ARN", ArgumentValue=rule.arn)
        if parts[3] != region:
            raise InvalidArgument(
                "The notification destination service region is not valid for the bucket location constraint",
                ArgumentName=rule.arn,
            )
        if service == "lambda":
            ok = (
                parts[4] == account_id
                and function_exists(rule.arn)
                and s3_may_invoke(rule.arn, bucket_arn, region)
            )
        else:
            ok = parts[4] == account_id and s3_may_send(rule.arn, bucket_arn)
        if not ok:
            failed.append((service, rule.arn))
    if failed:
        # S3 numbers the failing destinations: ArgumentName1/ArgumentValue1, 2, ...
        extra: dict[str, str] = {}
        for n, (service, arn) in enumerate(failed, start=1):
            extra[f"ArgumentName{n}"] = f"{arn}, null"
            extra[f"ArgumentValue{n}"] = _REFUSED[service].format(arn=arn)
        raise InvalidArgument("Unable to validate the following destination configurations", **extra)


@lru_cache(maxsize=256)
def _rules(config_json: str) -> tuple[Rule, ...]:
    # Parsed once per stored text: route runs on every object change.
    config = json.loads(config_json)
    out = []
    for kind, arn_key in KINDS.items():
        for item in config.get(kind) or ():
            _, rule = _one(item, arn_key)
            out.append(rule)
    return tuple(out)


@lru_cache(maxsize=256)
def _to_eventbridge(config_json: str) -> bool:
    return EVENTBRIDGE in json.loads(config_json)


# What an EventBridge delivery's payload holds: the event's source, detail-type, resources and
# detail (its target is the region's default bus: `eventbridge_arn`).
_DETAIL_TYPES = {"ObjectCreated": "Object Created", "ObjectRemoved": "Object Deleted"}
_REASONS = {
    "ObjectCreated:Put": "PutObject",
    "ObjectCreated:Post": "POST Object",
    "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "ObjectRemoved:Delete": "DeleteObject",
    "ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}


def eventbridge_arn(region: str, account_id: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:event-bus/default"


def eventbridge_event(change: ObjectChange, account_id: str) -> dict[str, Any]:
    """S3's "Object Created" / "Object Deleted" event for EventBridge, as S3 documents it
    (detail version "0"; the bucket and object, the request, the requester and the reason)."""
    created = change.event.startswith("ObjectCreated:")
    obj: dict[str, Any] = {"key": change.key}
    if created:
        obj["size"] = change.size
        obj["etag"] = change.etag
    obj["sequencer"] = change.sequencer
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": change.bucket},
        "object": obj,
        "request-id": change.request_id,
        "requester": account_id,
        "source-ip-address": change.source_ip,
        "reason": _REASONS.get(change.event, change.event),
    }
    if not created:
        detail["deletion-type"] = (
            "Delete Marker Created" if change.event.endswith("DeleteMarkerCreated") else "Permanently Deleted"
        )
    return {
        "source": "aws.s3",
        "detail-type": _DETAIL_TYPES[change.event.partition(":")[0]],
        "resources": [f"arn:aws:s3:::{change.bucket}"],
        "detail": detail,
    }


def route(config_json: str | None, change: ObjectChange, *, account_id: str) -> list[Delivery]:
    """One Delivery per configuration that matches the change (at most one, as overlapping
    configurations are refused; the stored text was validated when it was put), and one for
    the region's default event bus when EventBridge delivery is on."""
    if not config_json:
        return []
    out = []
    if _to_eventbridge(config_json):
        payload = json.dumps(eventbridge_event(change, account_id), separators=(",", ":")).encode()
        region = change.bucket_region
        out.append(Delivery(eventbridge_arn(region, account_id), region, payload))
    for rule in _rules(config_json):
        if rule.matches(change.event, change.key):
            record = event_record(change, rule.id, account_id)
            payload = json.dumps({"Records": [record]}, separators=(",", ":")).encode()
            out.append(Delivery(rule.arn, rule.arn.split(":")[3], payload))
    return out


def route_record(config_json: str | None, record: Mapping[str, Any]) -> list[Delivery]:
    """An S3 event record from another store (a webhook): one Delivery per configuration of
    the same-named bucket here that matches it. The record is passed on as it came, with the
    matching configuration's Id as its configurationId; events this store does not subscribe
    to (ObjectAccessed, Replication, ...) match nothing."""
    if not config_json:
        return []
    s3 = record.get("s3") or {}
    event = str(record.get("eventName") or "").removeprefix("s3:")
    key = unquote_plus(str((s3.get("object") or {}).get("key") or ""))
    out = []
    for rule in _rules(config_json):
        if rule.matches(event, key):
            forwarded = copy.deepcopy(dict(record))
            forwarded.setdefault("s3", {})["configurationId"] = rule.id
            payload = json.dumps({"Records": [forwarded]}, separators=(",", ":")).encode()
            out.append(Delivery(rule.arn, rule.arn.split(":")[3], payload))
    return out
