"""Lambda REST API: event source mappings (Create/Get/Update/Delete/ListEventSourceMappings).

The handlers check what the model cannot say (which settings a source kind takes, BatchSize
above 10 needing a batching window, FilterCriteria's syntax, the queue's visibility timeout
against the function's timeout, the execution role's permissions on the source) and leave the
rest to the mappings owner (eventsources/mappings.py) and its pollers."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from stratus.control import validate
from stratus.control.arns import merge_qualifier, parse_function_ref
from stratus.control.keys import FunctionKey, check_region
from stratus.errors import InvalidParameterValue, ResourceNotFound, ServiceError
from stratus.eventsources import filtering
from stratus.eventsources.mappings import Mappings
from stratus.eventsources.model import EventSourceMapping, MappingConfig
from stratus.eventsources.source import SourceKind
from stratus.lambda_api.context import LambdaContext

# Settings only stream sources take; a queue mapping naming one is refused, as Lambda does.
STREAM_ONLY = {
    "StartingPosition": "starting_position",
    "StartingPositionTimestamp": "starting_position_ts",
    "MaximumRetryAttempts": "max_retries",
    "BisectBatchOnFunctionError": "bisect",
    "MaximumRecordAgeInSeconds": "max_record_age_s",
    "ParallelizationFactor": "parallelization",
    "TumblingWindowInSeconds": "tumbling_window_s",
    "DestinationConfig": "on_failure",
}
# Settings of sources Stratus does not serve (Kafka, MQ, DocumentDB...).
UNSERVED = (
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
)
DEFAULT_LIST = 100
STREAM_BATCH = 100  # BatchSize's default for DynamoDB Streams


MAPPING_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:event-source-mapping:"
    r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)


def _owner(context: LambdaContext) -> Mappings:
    if context.mappings is None:
        raise ServiceError("Event source mappings are not available on this server.")
    return context.mappings


def _regional(mappings: Mappings, uuid: str, region: str) -> EventSourceMapping:
    """The mapping `uuid` names in the request's region: mappings are regional, as on Lambda,
    so another region's is not found."""
    mapping = mappings.find(uuid)
    if mapping is None or mapping.region != region:
        raise ResourceNotFound(f"The resource you requested does not exist. (Service: Lambda, UUID: {uuid})")
    return mapping


def _kind(context: LambdaContext, arn: str | None) -> SourceKind:
    parts = (arn or "").split(":")
    kind = context.sources.get(parts[2]) if len(parts) >= 6 and parts[0] == "arn" else None
    if kind is None:
        raise InvalidParameterValue(
            "Unrecognized event source, must be kinesis, dynamodb stream or sqs. "
            f"Unsupported source arn : {arn}"
        )
    return kind


def _config(params: dict[str, Any], kind: SourceKind, base: MappingConfig | None) -> MappingConfig:
    """The settings a request gives, over `base` (an update's current ones)."""
    for name in UNSERVED:
        if name in params:
            raise InvalidParameterValue(f"Unsupported {name} parameter for given event source mapping type.")
    values: dict[str, Any] = {}
    if kind.semantics == "queue":
        for name in STREAM_ONLY:
            if name in params:
                raise InvalidParameterValue(
                    f"Unsupported {name} parameter for given event source mapping type."
                )
    else:
        for name, field in STREAM_ONLY.items():
            if name == "DestinationConfig" and name in params:
                destination = ((params[name] or {}).get("OnFailure") or {}).get("Destination")
                values[field] = destination or None
            elif name == "StartingPositionTimestamp" and name in params:
                values[field] = params[name].timestamp()
            elif name in params:
                values[field] = params[name]
        if base is None and "StartingPosition" not in params:
            raise InvalidParameterValue("StartingPosition is required for stream event sources.")
        if base is None and "BatchSize" not in params:
            values["batch_size"] = STREAM_BATCH  # streams' default, not queues' 10
        if "ScalingConfig" in params:
            raise InvalidParameterValue(
                "Unsupported ScalingConfig parameter for given event source mapping type."
            )
    if "BatchSize" in params:
        values["batch_size"] = params["BatchSize"]
    if "MaximumBatchingWindowInSeconds" in params:
        values["window_s"] = params["MaximumBatchingWindowInSeconds"]
    if "ScalingConfig" in params:
        values["max_concurrency"] = (params["ScalingConfig"] or {}).get("MaximumConcurrency")
    if "FunctionResponseTypes" in params:
        values["report_failures"] = "ReportBatchItemFailures" in params["FunctionResponseTypes"]
    if "FilterCriteria" in params:
        filters = (params["FilterCriteria"] or {}).get("Filters") or []
        patterns = tuple(str(f.get("Pattern", "")) for f in filters)
        problem = filtering.check(patterns)
        if problem:
            raise InvalidParameterValue(problem)
        values["filters"] = patterns
    config = dataclasses.replace(base or MappingConfig(), **values)
    if config.batch_size > 10 and config.window_s < 1 and kind.semantics == "queue":
        raise InvalidParameterValue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    return config


def _function(context: LambdaContext, value: str, region: str) -> tuple[str, str | None, int, str]:
    """(name, qualifier, timeout, role) of the function a mapping names, which must exist in
    the mapping's region (an ARN of another region is refused as Lambda refuses it)."""
    ref = parse_function_ref(value, context.account_id)
    qualifier = merge_qualifier(ref, None)
    check_region(ref.region, region)
    config = context.registry.version(FunctionKey(region, ref.name), qualifier)  # NotFound when missing
    return ref.name, qualifier, config.timeout, config.role


def _check_role(
    context: LambdaContext,
    kind: SourceKind,
    name: str,
    role: str,
    arn: str,
    region: str,
    on_failure: str | None = None,
) -> None:
    """With IAM on, Lambda reads the source as the function's execution role."""
    for action in kind.permissions:
        if not context.authorizer.role_may(role, name, action, arn, region=region):
            service, _, verb = action.partition(":")
            raise InvalidParameterValue(
                f"The provided execution role does not have permissions to call {verb} on {service.upper()}"
            )
    if on_failure:  # a stream's OnFailure destination: Lambda sends to it as the role
        action = "sqs:SendMessage" if on_failure.split(":")[2:3] == ["sqs"] else "sns:Publish"
        if not context.authorizer.role_may(role, name, action, on_failure, region=region):
            service, _, verb = action.partition(":")
            raise InvalidParameterValue(
                f"The provided execution role does not have permissions to call {verb} on {service.upper()}"
            )


def shape(mappings: Mappings, mapping: EventSourceMapping) -> dict[str, Any]:
    config = mapping.config
    result: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": config.batch_size,
        "MaximumBatchingWindowInSeconds": config.window_s,
        "EventSourceArn": mapping.source_arn,
        "FunctionArn": mapping.function_arn,
        "LastModified": mapping.last_modified,
        "LastProcessingResult": mappings.last_result(mapping.uuid),
        "State": mapping.state,
        "StateTransitionReason": mapping.reason,
        "FunctionResponseTypes": ["ReportBatchItemFailures"] if config.report_failures else [],
        "EventSourceMappingArn": mapping.arn,
    }
    if config.filters:
        result["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in config.filters]}
    if config.max_concurrency is not None:
        result["ScalingConfig"] = {"MaximumConcurrency": config.max_concurrency}
    if config.starting_position is not None:  # a stream's mapping
        result.update(
            StartingPosition=config.starting_position,
            MaximumRetryAttempts=config.max_retries,
            BisectBatchOnFunctionError=config.bisect,
            MaximumRecordAgeInSeconds=config.max_record_age_s,
            ParallelizationFactor=config.parallelization,
            TumblingWindowInSeconds=config.tumbling_window_s,
            DestinationConfig={"OnFailure": {"Destination": config.on_failure} if config.on_failure else {}},
        )
    return result


async def create_event_source_mapping(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    mappings = _owner(context)
    arn = params.get("EventSourceArn")
    kind = _kind(context, arn)
    assert arn is not None
    config = _config(params, kind, None)
    name, qualifier, timeout, role = _function(context, params["FunctionName"], region)
    kind.check(arn, config, timeout)
    _check_role(context, kind, name, role, arn, region, config.on_failure)
    tags = validate.tags(params["Tags"]) if "Tags" in params else None
    mapping = mappings.create(
        region, name, qualifier, arn, config, bool(params.get("Enabled", True)), tags=tags
    )
    return shape(mappings, mapping)


async def get_event_source_mapping(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    mappings = _owner(context)
    return shape(mappings, _regional(mappings, params["UUID"], region))


async def update_event_source_mapping(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    mappings = _owner(context)
    current = _regional(mappings, params["UUID"], region)
    kind = _kind(context, current.source_arn)
    config = _config(params, kind, current.config)
    function = (current.function_name, current.qualifier)
    if "FunctionName" in params:
        name, qualifier, timeout, role = _function(context, params["FunctionName"], region)
        function = (name, qualifier)
        _check_role(context, kind, name, role, current.source_arn, region, config.on_failure)
        kind.check(current.source_arn, config, timeout)
    else:
        try:
            timeout = _function(context, current.function_arn, region)[2]
        except ResourceNotFound:  # a mapping outlives its function, and can still be changed
            timeout = 0
        kind.check(current.source_arn, config, timeout)
    enabled = params.get("Enabled")
    mapping = mappings.update(
        current.uuid, config=config, enabled=None if enabled is None else bool(enabled), function=function
    )
    return shape(mappings, mapping)


async def delete_event_source_mapping(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    mappings = _owner(context)
    return shape(mappings, mappings.delete(_regional(mappings, params["UUID"], region).uuid))


async def list_event_source_mappings(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    mappings = _owner(context)
    name: str | None = None
    if params.get("FunctionName"):
        ref = parse_function_ref(params["FunctionName"], context.account_id)
        check_region(ref.region, region)
        name = ref.name
    listed = [m for m in mappings.listed(name, params.get("EventSourceArn")) if m.region == region]
    start = 0
    marker = params.get("Marker")
    if marker:
        ids = [m.uuid for m in listed]
        if marker not in ids:
            raise InvalidParameterValue(f"Invalid marker: {marker}")
        start = ids.index(marker)
    count = int(params.get("MaxItems") or DEFAULT_LIST)
    page = listed[start : start + count]
    result: dict[str, Any] = {"EventSourceMappings": [shape(mappings, m) for m in page]}
    if start + count < len(listed):
        result["NextMarker"] = listed[start + count].uuid
    return result


# -- tags (TagResource, UntagResource and ListTags take a mapping's ARN as they take a function's)


def tagged_mapping(context: LambdaContext, arn: str) -> str | None:
    """The UUID of the mapping `arn` names (in this account and region, else not found), or
    None when `arn` is not an event source mapping's ARN."""
    match = MAPPING_ARN.match(arn or "")
    if match is None:
        return None
    mapping = _owner(context).find(match.group("uuid"))
    if mapping is None or mapping.arn != arn:
        raise ResourceNotFound(f"Event source mapping not found: {arn}")
    return mapping.uuid


def tag_mapping(context: LambdaContext, uuid: str, tags: dict[str, str]) -> None:
    _owner(context).tag(uuid, tags)


def untag_mapping(context: LambdaContext, uuid: str, keys: list[str]) -> None:
    _owner(context).untag(uuid, keys)


def mapping_tags(context: LambdaContext, uuid: str) -> dict[str, str]:
    return dict(_owner(context).get(uuid).tags)
