"""Lambda REST API: creating, reading, updating, listing and deleting functions."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from stratus.control import validate
from stratus.control.arns import merge_qualifier, message_target, parse_function_ref
from stratus.control.codestore import StoredCode
from stratus.control.keys import FunctionKey, check_region
from stratus.control.models import FunctionConfig
from stratus.control.registry import new_revision, now_iso
from stratus.errors import (
    CodeVerificationFailed,
    InvalidParameterValue,
    RequestTooLarge,
    ResourceConflict,
    ResourceNotFound,
)
from stratus.frontend.context import request_host
from stratus.lambda_api import code_urls
from stratus.lambda_api.context import LambdaContext
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


ENFORCED = (
    "Lambda cannot deploy the code: the function's code signing configuration {arn} is set to "
    "Enforce, and code deployed to Stratus carries no signature (AWS Signer has no counterpart "
    "here). Set UntrustedArtifactOnDeployment to Warn, or remove the configuration."
)


def check_unsigned(context: LambdaContext, arn: str) -> None:
    """Refuse new code (or layers) under a code signing configuration that enforces signatures:
    no package deployed here is signed (control/code_signing.py)."""
    if arn and context.signing_configs.by_arn(arn).untrusted_artifact == "Enforce":
        raise CodeVerificationFailed(ENFORCED.format(arn=arn))


def function_ref(
    context: LambdaContext, params: dict[str, Any], region: str
) -> tuple[FunctionKey, str | None]:
    """The function a request names (a name, or a partial or full ARN) in the request's region,
    and its qualifier, from the name and `?Qualifier=`, which must agree. An ARN of another
    region is refused as Lambda refuses it (ResourceNotFoundException)."""
    ref = parse_function_ref(params["FunctionName"], context.account_id)
    qualifier = merge_qualifier(ref, params.get("Qualifier"))
    check_region(ref.region, region)
    return FunctionKey(region, ref.name), qualifier


def check_runtime(context: LambdaContext, runtime: Any) -> str:
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


def decode_zip(code: dict[str, Any]) -> bytes:
    """The package of a FunctionCode (or a layer's Content): the parser has already decoded the
    model's base64 blob; only ZipFile sources are served here."""
    if "ZipFile" not in code:
        if "S3Bucket" in code or "ImageUri" in code:
            raise InvalidParameterValue(
                "Only ZipFile code is supported; S3Bucket and ImageUri are not available here."
            )
        raise InvalidParameterValue("Please provide a source for function code.")
    data = bytes(code["ZipFile"])
    if len(data) > MAX_ZIP_BYTES:
        raise RequestTooLarge("Request must be smaller than 70167211 bytes for the CreateFunction operation")
    return data


async def store_code(context: LambdaContext, data: bytes) -> StoredCode:
    return await asyncio.to_thread(context.code.put, data)


def config_changes(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    """Validated FunctionConfig fields from Create/UpdateFunctionConfiguration parameters, for a
    function of `region`."""
    changes: dict[str, Any] = {}
    if "Runtime" in params:
        changes["runtime"] = check_runtime(context, params["Runtime"])
    if "Role" in params:
        changes["role"] = validate.role(params["Role"])
        if context.roles is not None and not context.roles.assumable(changes["role"]):
            raise InvalidParameterValue("The role defined for the function cannot be assumed by Lambda.")
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
        changes["tracing_mode"] = params["TracingConfig"].get("Mode", "PassThrough")
    if "LoggingConfig" in params:
        changes.update(validate.logging_config(params["LoggingConfig"]))
    if "SnapStart" in params:
        changes["snap_start"] = params["SnapStart"].get("ApplyOn", "None")
    if "DeadLetterConfig" in params:
        changes["dead_letter_arn"] = _dead_letter(context, params["DeadLetterConfig"])
    if "Layers" in params:
        changes["layers"] = _layers(context, params["Layers"], region)
    if "VpcConfig" in params:
        changes["vpc_config"] = validate.vpc_config(params["VpcConfig"])
    if "KMSKeyArn" in params:
        changes["kms_key_arn"] = params["KMSKeyArn"] or ""
    if params.get("FileSystemConfigs"):
        raise InvalidParameterValue(
            "FileSystemConfigs (Amazon EFS mounts) are not available here: put shared files in a "
            "layer, or reach a file server over the network."
        )
    if params.get("ImageConfig"):
        raise InvalidParameterValue(
            "ImageConfig applies to container image functions (PackageType Image), which are not "
            "available here: only Zip packages are."
        )
    return changes


async def prepare_runtime(context: LambdaContext, config: FunctionConfig) -> None:
    """At deploy: a Java version's own class-data-sharing archive, so its cold starts map its
    classes instead of loading them. A failure only means starts without it."""
    runtime = context.runtimes.get(config.runtime)
    if isinstance(runtime, JavaRuntime):
        target = context.code.artifact_path(java.app_key(config.code_key, config.handler, runtime.name))
        tree = context.code.tree(config.code_key)
        await asyncio.to_thread(java.build_app_archive, runtime, tree, config.handler, target)


async def prepare_layers(context: LambdaContext, changes: dict[str, Any]) -> None:
    """Merge the layers' trees for /opt now, off the loop, so no cold start builds it."""
    if changes.get("layers"):
        keys = tuple(key for _, _, key in changes["layers"])
        await asyncio.to_thread(context.code.layered, keys)


def _layers(context: LambdaContext, arns: list[str], region: str) -> tuple[tuple[str, int, str], ...]:
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
            if version.region != region:  # a function uses layers of its own region only
                raise ResourceNotFound(arn)
        except ResourceNotFound:
            raise InvalidParameterValue(f"Layer version {arn} does not exist.") from None
        resolved.append((arn, version.code_size, version.code_key))
    return tuple(resolved)


async def create_function(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    # The model allows names up to 140 characters and ARNs; Lambda creates plain names only.
    name = validate.function_name(params["FunctionName"])
    if params.get("PackageType", "Zip") != "Zip":
        raise InvalidParameterValue("Only the Zip package type is supported.")
    if "Runtime" not in params or "Handler" not in params:
        raise InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with Zip package type."
        )
    architectures = params.get("Architectures") or ["x86_64"]
    if architectures != ["x86_64"]:
        raise InvalidParameterValue("Only the x86_64 architecture is available on this host.")
    signing = params.get("CodeSigningConfigArn") or ""
    if signing:
        signing = context.signing_configs.get(signing, region).arn(context.account_id)  # NotFound if none
        check_unsigned(context, signing)
    changes = config_changes(context, params, region)
    tags = validate.tags(params.get("Tags") or {})
    if context.registry.find(FunctionKey(region, name)) is not None:
        # Refuse before storing code, so a conflict costs nothing.
        raise ResourceConflict(f"Function already exist: {name}")
    stored = await store_code(context, decode_zip(params["Code"]))
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
        home_region=region,
        **changes,
    )
    await prepare_runtime(context, config)
    created = context.registry.create_function(
        config, tags=tags, publish=bool(params.get("Publish")), code_signing=signing
    )
    return function_configuration(created, region, context.account_id)


async def get_function(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    cfg = context.registry.version(key, qualifier)
    record = context.registry.get(key)
    result: dict[str, Any] = {
        "Configuration": function_configuration(cfg, region, context.account_id),
        "Code": {"RepositoryType": "S3", "Location": code_location(context, cfg.code_key)},
    }
    if record.tags:
        result["Tags"] = dict(record.tags)
    if record.reserved_concurrency is not None:
        result["Concurrency"] = {"ReservedConcurrentExecutions": record.reserved_concurrency}
    return result


def code_location(context: LambdaContext, key: str) -> str:
    """A download link on the host the client reached this server by."""
    host = request_host(context)
    return code_urls.location(host, key, context.credentials.secret_access_key, context.config.code_url_ttl)


async def download_code(context: LambdaContext, request: web.Request) -> web.StreamResponse:
    """A Code.Location link: honoured while genuine and current, else S3's 403 XML. Not part of
    Lambda's API (no SigV4: the link carries its own signature), so an aiohttp route."""
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


def downloads(context: LambdaContext) -> Callable[[web.Application], None]:
    """What adds the code download route to an app, its handler given the Lambda context."""

    async def download(request: web.Request) -> web.StreamResponse:
        return await download_code(context, request)

    def register(app: web.Application) -> None:
        app.router.add_get(code_urls.PATH_PREFIX + "{key}", download)

    return register


async def get_function_configuration(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    cfg = context.registry.version(key, qualifier)
    return function_configuration(cfg, region, context.account_id)


async def list_functions(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    # The model holds MaxItems to 1..10000; Lambda pages at most 50 at a time.
    max_items = min(params.get("MaxItems", 50), 50)
    all_versions = params.get("FunctionVersion") == "ALL"
    configs: list[FunctionConfig] = []
    for name in context.registry.names(region):
        record = context.registry.get(FunctionKey(region, name))
        configs.append(record.latest)
        if all_versions:
            configs.extend(record.versions[v] for v in sorted(record.versions, key=int))
    keys = [_order_key(c.name, c.version) for c in configs]
    start = 0
    marker = params.get("Marker")
    if marker:
        after = _order_key(*_decode_marker(marker))
        start = next((i for i, k in enumerate(keys) if k > after), len(keys))
    page = configs[start : start + max_items]
    result: dict[str, Any] = {
        "Functions": [function_configuration(c, region, context.account_id) for c in page]
    }
    if start + max_items < len(configs):
        last = page[-1]
        result["NextMarker"] = base64.urlsafe_b64encode(f"{last.name}:{last.version}".encode()).decode()
    return result


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


async def update_function_code(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    check_unsigned(context, context.registry.get(key).code_signing_config)
    stored = await store_code(context, decode_zip(params))
    latest = context.registry.get(key).latest
    await prepare_runtime(context, latest.replace(code_key=stored.key))
    cfg = context.registry.update_code(
        key, stored, revision_id=params.get("RevisionId"), publish=bool(params.get("Publish"))
    )
    return function_configuration(cfg, region, context.account_id)


async def update_function_configuration(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    unknown = set(params) - CONFIG_FIELDS - {"FunctionName"}
    if unknown:
        raise InvalidParameterValue(f"Unsupported configuration fields: {', '.join(sorted(unknown))}")
    record = context.registry.get(key)
    if params.get("Layers"):  # layers are code, held to the same signatures as the function's
        check_unsigned(context, record.code_signing_config)
    changes = config_changes(context, params, region)
    await prepare_layers(context, changes)
    await prepare_runtime(context, context.registry.get(key).latest.replace(**changes))
    cfg = context.registry.update_config(key, changes, revision_id=params.get("RevisionId"))
    return function_configuration(cfg, region, context.account_id)


async def delete_function(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    context.registry.delete_function(key, qualifier)
    return {}


def _dead_letter(context: LambdaContext, config: dict[str, Any]) -> str:
    """DeadLetterConfig's target: an SQS queue or SNS topic that exists ("" removes it)."""
    arn = str(config.get("TargetArn") or "")
    if not arn:
        return ""
    if message_target(arn) is None:
        raise InvalidParameterValue(
            f"The DeadLetterConfig TargetArn {arn} is invalid: it must be an SQS queue or SNS topic ARN."
        )
    if not context.message_target_exists(arn):
        raise InvalidParameterValue(f"The dead-letter target {arn} does not exist.")
    return arn
