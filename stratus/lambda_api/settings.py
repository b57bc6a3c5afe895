"""Lambda REST API: reserved concurrency, tags and account settings."""

from __future__ import annotations

from aiohttp import web

from stratus.control import validate
from stratus.control.codestore import MAX_UNZIPPED
from stratus.errors import InvalidParameterValue
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ctx, json_body
from stratus.lambda_api.arns import parse_resource_arn
from stratus.lambda_api.functions import MAX_ZIP_BYTES, function_ref


async def put_function_concurrency(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    params = json_body(request)
    value = params.get("ReservedConcurrentExecutions")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParameterValue("ReservedConcurrentExecutions must be a whole number of 0 or more.")
    record = context.registry.get(name)
    others = context.invoker.reserved_total() - (record.reserved_concurrency or 0)
    limit = context.config.concurrency_limit
    floor = context.config.min_unreserved_concurrency
    if limit - others - value < floor:
        raise InvalidParameterValue(
            f"Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
        )
    context.registry.put_reserved_concurrency(name, value)
    return json_response({"ReservedConcurrentExecutions": value})


async def get_function_concurrency(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    record = context.registry.get(name)
    if record.reserved_concurrency is None:
        return json_response({})
    return json_response({"ReservedConcurrentExecutions": record.reserved_concurrency})


async def delete_function_concurrency(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    context.registry.put_reserved_concurrency(name, None)
    return empty_response(204)


async def tag_resource(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name = parse_resource_arn(request.match_info["arn"])
    tags = validate.tags(json_body(request).get("Tags"))
    context.registry.tag(name, tags)
    return empty_response(204)


async def untag_resource(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name = parse_resource_arn(request.match_info["arn"])
    keys = request.query.getall("tagKeys", [])
    context.registry.untag(name, keys)
    return empty_response(204)


async def list_tags(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name = parse_resource_arn(request.match_info["arn"])
    return json_response({"Tags": dict(context.registry.get(name).tags)})


async def get_account_settings(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    records = list(context.registry.records())
    total_code = sum(r.latest.code_size + sum(v.code_size for v in r.versions.values()) for r in records)
    limit = context.config.concurrency_limit
    return json_response(
        {
            "AccountLimit": {
                "TotalCodeSize": 80 * 1024 * 1024 * 1024,
                "CodeSizeUnzipped": MAX_UNZIPPED,
                "CodeSizeZipped": MAX_ZIP_BYTES,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": limit - context.invoker.reserved_total(),
            },
            "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": len(records)},
        }
    )
