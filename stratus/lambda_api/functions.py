"""Lambda REST API: creating, reading, updating, listing and deleting functions."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from typing import Any

from aiohttp import web

from stratus.control import validate
from stratus.control.codestore import StoredCode
from stratus.control.models import FunctionConfig
from stratus.control.registry import new_revision, now_iso
from stratus.errors import (
    InvalidParameterValue,
    RequestTooLarge,
    ResourceConflict,
    ResourceNotFound,
    ValidationError,
)
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ApiContext, ctx, json_body, region
from stratus.lambda_api import code_urls
from stratus.lambda_api.arns import merge_qualifier, parse_function_ref
from stratus.lambda_api.shapes import function_configuration
from stratus.runtimes import java
from stratus.runtimes.java import JavaRuntime

MAX_ZIP_BYTES = 50 * 1024 * 1024
KNOWN_RUNTIMES = (
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "java11",
    "java17",
    "java21",
    "provided.al2",
    "provided.al2023",
    "dotnet8",
    "ruby3.3",
)
CONFIG_FIELDS = {
    "Role",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "Runtime",
    "EphemeralStorage",
    "RevisionId",
    "LoggingConfig",
    "TracingConfig",
    "Layers",
    "VpcConfig",
    "DeadLetterConfig",
    "KMSKeyArn",
    "FileSystemConfigs",
    "ImageConfig",
    "SnapStart",
}


def function_ref(request: web.Request) -> tuple[str, str | None]:
    context = ctx(request)
    ref = parse_function_ref(request.match_info["name"], context.account_id)
    return ref.name, merge_qualifier(ref, request.query.get("Qualifier"))


def check_runtime(context: ApiContext, runtime: Any) -> str:
    if runtime not in KNOWN_RUNTIMES:
        raise InvalidParameterValue(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{', '.join(KNOWN_RUNTIMES)}] or be a valid ARN"
        )
    status = context.runtimes.get(runtime)
    if status is None or isinstance(status, str):
        reason = status or "this runtime is not supported by this Stratus server yet"
        raise InvalidParameterValue(f"The runtime parameter of {runtime} is not available here: {reason}.")
    return str(runtime)


def decode_zip(code: Any) -> bytes:
    if not isinstance(code, dict):
        raise InvalidParameterValue("Code must be an object with a ZipFile.")
    if "ZipFile" not in code:
        if "S3Bucket" in code or "ImageUri" in code:
            raise InvalidParameterValue(
                "Only ZipFile code is supported; S3Bucket and ImageUri are not available here."
            )
        raise InvalidParameterValue("Please provide a source for function code.")
    try:
        data = base64.b64decode(code["ZipFile"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise InvalidParameterValue("ZipFile must be base64-encoded zip data.") from None
    if len(data) > MAX_ZIP_BYTES:
        raise RequestTooLarge("Request must be smaller than 70167211 bytes for the CreateFunction operation")
    return data


async def store_code(context: ApiContext, data: bytes) -> StoredCode:
    return await asyncio.to_thread(context.code.put, data)


def _object(value: Any, member: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameterValue(f"{member} must be an object.")
    return value


def config_changes(context: ApiContext, params: dict[str, Any]) -> dict[str, Any]:
    """Validated FunctionConfig fields from Create/UpdateFunctionConfiguration parameters."""
    changes: dict[str, Any] = {}
    if "Runtime" in params:
        changes["runtime"] = check_runtime(context, params["Runtime"])
    if "Role" in params:
        changes["role"] = validate.role(params["Role"])
    if "Handler" in params:
        changes["handler"] = validate.handler(params["Handler"])
    if "Description" in params:
        changes["description"] = validate.description(params["Description"])
    if "Timeout" in params:
        changes["timeout"] = validate.timeout(params["Timeout"])
    if "MemorySize" in params:
        changes["memory_size"] = validate.memory_size(params["MemorySize"])
    if "Environment" in params:
        changes["environment"] = validate.environment(params["Environment"])
    if "EphemeralStorage" in params:
        changes["ephemeral_storage"] = validate.ephemeral_storage(params["EphemeralStorage"])
    if "TracingConfig" in params:
        mode = _object(params["TracingConfig"], "TracingConfig").get("Mode", "PassThrough")
        if mode not in ("Active", "PassThrough"):
            raise InvalidParameterValue("TracingConfig.Mode must be Active or PassThrough.")
        changes["tracing_mode"] = mode
    if "LoggingConfig" in params:
        changes.update(validate.logging_config(params["LoggingConfig"]))
    if "SnapStart" in params:
        apply_on = _object(params["SnapStart"], "SnapStart").get("ApplyOn", "None")
        if apply_on not in ("None", "PublishedVersions"):
            raise InvalidParameterValue("SnapStart.ApplyOn must be None or PublishedVersions.")
        changes["snap_start"] = apply_on
    target = (
        (params.get("DeadLetterConfig") or {}).get("TargetArn")
        if isinstance(params.get("DeadLetterConfig"), dict)
        else params.get("DeadLetterConfig")
    )
    if target:
        raise InvalidParameterValue(
            "DeadLetterConfig needs an SQS queue or SNS topic, which this server does not offer yet; "
            "use an OnFailure destination (PutFunctionEventInvokeConfig) to another function instead."
        )
    if "Layers" in params:
        changes["layers"] = _layers(context, params["Layers"])
    return changes


async def prepare_runtime(context: ApiContext, config: FunctionConfig) -> None:
    """At deploy: a Java version's own class-data-sharing archive, so its cold starts map its
    classes instead of loading them. A failure only means starts without it."""
    runtime = context.runtimes.get(config.runtime)
    if isinstance(runtime, JavaRuntime):
        target = context.code.artifact_path(java.app_key(config.code_key, config.handler, runtime.name))
        tree = context.code.tree(config.code_key)
        await asyncio.to_thread(java.build_app_archive, runtime, tree, config.handler, target)


async def prepare_layers(context: ApiContext, changes: dict[str, Any]) -> None:
    """Merge the layers' trees for /opt now, off the loop, so no cold start builds it."""
    if changes.get("layers"):
        keys = tuple(key for _, _, key in changes["layers"])
        await asyncio.to_thread(context.code.layered, keys)


def _layers(context: ApiContext, arns: Any) -> tuple[tuple[str, int, str], ...]:
    if not isinstance(arns, list) or not all(isinstance(a, str) for a in arns):
        raise InvalidParameterValue("Layers must be a list of layer version ARNs.")
    if len(arns) > 5:
        raise InvalidParameterValue("Cannot reference more than 5 layers.")
    if len({a.rsplit(":", 1)[0] for a in arns}) != len(arns):
        raise InvalidParameterValue(
            "Two different versions of the same layer are not allowed to be referenced."
        )
    resolved = []
    for arn in arns:
        try:
            version = context.layers.by_arn(arn)
        except ResourceNotFound:
            raise InvalidParameterValue(f"Layer version {arn} does not exist.") from None
        resolved.append((arn, version.code_size, version.code_key))
    return tuple(resolved)


async def create_function(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    params = json_body(request)
    name = validate.function_name(params.get("FunctionName"))
    if "Role" not in params:
        raise ValidationError(
            "1 validation error detected: Value null at 'role' failed to satisfy constraint: "
            "Member must not be null"
        )
    if params.get("PackageType", "Zip") != "Zip":
        raise InvalidParameterValue("Only the Zip package type is supported.")
    if "Runtime" not in params or "Handler" not in params:
        raise InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with Zip package type."
        )
    architectures = params.get("Architectures") or ["x86_64"]
    if architectures != ["x86_64"]:
        raise InvalidParameterValue("Only the x86_64 architecture is available on this host.")
    changes = config_changes(context, params)
    tags = validate.tags(params.get("Tags") or {})
    if context.registry.find(name) is not None:
        # Refuse before storing code, so a conflict costs nothing.
        raise ResourceConflict(f"Function already exist: {name}")
    stored = await store_code(context, decode_zip(params.get("Code")))
    await prepare_layers(context, changes)
    config = FunctionConfig(
        name=name,
        runtime=changes.pop("runtime"),
        handler=changes.pop("handler"),
        role=changes.pop("role"),
        code_sha256=stored.sha256_b64,
        code_size=stored.size,
        code_key=stored.key,
        revision_id=new_revision(),
        last_modified=now_iso(),
        **changes,
    )
    await prepare_runtime(context, config)
    created = context.registry.create_function(config, tags=tags, publish=bool(params.get("Publish")))
    return json_response(function_configuration(created, region(request), context.account_id), 201)


async def get_function(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    cfg = context.registry.version(name, qualifier)
    record = context.registry.get(name)
    result: dict[str, Any] = {
        "Configuration": function_configuration(cfg, region(request), context.account_id),
        "Code": {"RepositoryType": "S3", "Location": code_location(request, cfg.code_key)},
    }
    if record.tags:
        result["Tags"] = dict(record.tags)
    if record.reserved_concurrency is not None:
        result["Concurrency"] = {"ReservedConcurrentExecutions": record.reserved_concurrency}
    return json_response(result)


def code_location(request: web.Request, key: str) -> str:
    context = ctx(request)
    host = request.headers.get("Host") or f"{context.config.host}:{context.config.port}"
    return code_urls.location(host, key, context.credentials.secret_access_key, context.config.code_url_ttl)


async def download_code(request: web.Request) -> web.StreamResponse:
    """A Code.Location link: honoured while genuine and current, else S3's 403 XML."""
    context = ctx(request)
    key = request.match_info["key"]
    refusal = code_urls.check(
        key,
        request.query.get("Expires"),
        request.query.get("Signature"),
        context.credentials.secret_access_key,
        time.time(),
    )
    if refusal is not None:
        request_id = uuid.uuid4().hex.upper()[:16]
        return web.Response(
            status=403,
            body=refusal.xml(request_id),
            content_type="application/xml",
            headers={"x-amz-request-id": request_id},
        )
    path = context.code.zip_path(key)
    if not path.is_file():
        raise ResourceNotFound("No such code package.")
    return web.FileResponse(path, headers={"Content-Type": "application/zip"})


async def get_function_configuration(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    cfg = context.registry.version(name, qualifier)
    return json_response(function_configuration(cfg, region(request), context.account_id))


async def list_functions(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    marker = request.query.get("Marker")
    try:
        max_items = int(request.query.get("MaxItems", "50"))
    except ValueError:
        raise InvalidParameterValue("MaxItems must be a number between 1 and 10000.") from None
    if not 1 <= max_items <= 10000:
        raise InvalidParameterValue("MaxItems must be a number between 1 and 10000.")
    max_items = min(max_items, 50)
    all_versions = request.query.get("FunctionVersion") == "ALL"
    configs: list[FunctionConfig] = []
    for name in context.registry.names():
        record = context.registry.get(name)
        configs.append(record.latest)
        if all_versions:
            configs.extend(record.versions[v] for v in sorted(record.versions, key=int))
    keys = [_order_key(c.name, c.version) for c in configs]
    start = 0
    if marker:
        after = _order_key(*_decode_marker(marker))
        start = next((i for i, k in enumerate(keys) if k > after), len(keys))
    page = configs[start : start + max_items]
    result: dict[str, Any] = {
        "Functions": [function_configuration(c, region(request), context.account_id) for c in page]
    }
    if start + max_items < len(configs):
        last = page[-1]
        result["NextMarker"] = base64.urlsafe_b64encode(f"{last.name}:{last.version}".encode()).decode()
    return json_response(result)


def _order_key(name: str, version: str) -> tuple[str, int]:
    """The order ListFunctions pages in: by name, then $LATEST, then versions by number."""
    return name, -1 if version == "$LATEST" else int(version)


def _decode_marker(marker: str) -> tuple[str, str]:
    try:
        name, sep, version = base64.urlsafe_b64decode(marker.encode()).decode().rpartition(":")
        if not sep or not (version == "$LATEST" or version.isdigit()):
            raise ValueError(marker)
        return name, version
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameterValue("Invalid pagination marker.") from None


async def update_function_code(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    params = json_body(request)
    context.registry.get(name)
    stored = await store_code(context, decode_zip(params))
    latest = context.registry.get(name).latest
    await prepare_runtime(context, latest.replace(code_key=stored.key))
    cfg = context.registry.update_code(
        name, stored, revision_id=params.get("RevisionId"), publish=bool(params.get("Publish"))
    )
    return json_response(function_configuration(cfg, region(request), context.account_id))


async def update_function_configuration(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    params = json_body(request)
    unknown = set(params) - CONFIG_FIELDS
    if unknown:
        raise InvalidParameterValue(f"Unsupported configuration fields: {', '.join(sorted(unknown))}")
    context.registry.get(name)
    changes = config_changes(context, params)
    await prepare_layers(context, changes)
    await prepare_runtime(context, context.registry.get(name).latest.replace(**changes))
    cfg = context.registry.update_config(name, changes, revision_id=params.get("RevisionId"))
    return json_response(function_configuration(cfg, region(request), context.account_id))


async def delete_function(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    context.registry.delete_function(name, qualifier)
    return empty_response(204)
