"""The Lambda REST API, declared once (`SERVICE`): its model, how its requests reach it and
its handlers by operation (Lambda's own conventions: lambda_api/conventions.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus.control.keys import FunctionKey
from stratus.lambda_api import (
    code_signing,
    event_invoke,
    event_sources,
    functions,
    invoke,
    layers,
    policy,
    provisioned,
    settings,
    urls,
    versions,
)
from stratus.lambda_api.actions import AUTHORIZATION
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.conventions import PROTOCOL, LambdaService
from stratus.lambda_api.signing import SIGNING
from stratus.wire.service import Handler

HANDLERS: dict[str, Handler[LambdaContext]] = {
    "CreateFunction": functions.create_function,
    "ListFunctions": functions.list_functions,
    "GetFunction": functions.get_function,
    "GetFunctionConfiguration": functions.get_function_configuration,
    "GetFunctionCodeSigningConfig": code_signing.get_function_code_signing_config,
    "PutFunctionCodeSigningConfig": code_signing.put_function_code_signing_config,
    "DeleteFunctionCodeSigningConfig": code_signing.delete_function_code_signing_config,
    "CreateCodeSigningConfig": code_signing.create_code_signing_config,
    "GetCodeSigningConfig": code_signing.get_code_signing_config,
    "UpdateCodeSigningConfig": code_signing.update_code_signing_config,
    "DeleteCodeSigningConfig": code_signing.delete_code_signing_config,
    "ListCodeSigningConfigs": code_signing.list_code_signing_configs,
    "ListFunctionsByCodeSigningConfig": code_signing.list_functions_by_code_signing_config,
    "UpdateFunctionConfiguration": functions.update_function_configuration,
    "UpdateFunctionCode": functions.update_function_code,
    "DeleteFunction": functions.delete_function,
    "Invoke": invoke.invoke,
    "PublishVersion": versions.publish_version,
    "ListVersionsByFunction": versions.list_versions,
    "CreateAlias": versions.create_alias,
    "ListAliases": versions.list_aliases,
    "GetAlias": versions.get_alias,
    "UpdateAlias": versions.update_alias,
    "DeleteAlias": versions.delete_alias,
    "PutFunctionConcurrency": settings.put_function_concurrency,
    "GetFunctionConcurrency": settings.get_function_concurrency,
    "DeleteFunctionConcurrency": settings.delete_function_concurrency,
    "TagResource": settings.tag_resource,
    "UntagResource": settings.untag_resource,
    "ListTags": settings.list_tags,
    "GetAccountSettings": settings.get_account_settings,
    "PutProvisionedConcurrencyConfig": provisioned.put_provisioned,
    "GetProvisionedConcurrencyConfig": provisioned.get_provisioned,
    "DeleteProvisionedConcurrencyConfig": provisioned.delete_provisioned,
    "ListProvisionedConcurrencyConfigs": provisioned.list_provisioned,
    "PutFunctionEventInvokeConfig": event_invoke.put_event_invoke,
    "UpdateFunctionEventInvokeConfig": event_invoke.update_event_invoke,
    "GetFunctionEventInvokeConfig": event_invoke.get_event_invoke,
    "DeleteFunctionEventInvokeConfig": event_invoke.delete_event_invoke,
    "ListFunctionEventInvokeConfigs": event_invoke.list_event_invoke,
    "CreateFunctionUrlConfig": urls.create_url,
    "GetFunctionUrlConfig": urls.get_url,
    "UpdateFunctionUrlConfig": urls.update_url,
    "DeleteFunctionUrlConfig": urls.delete_url,
    "ListFunctionUrlConfigs": urls.list_urls,
    "AddPermission": policy.add_permission,
    "GetPolicy": policy.get_policy,
    "RemovePermission": policy.remove_permission,
    "PublishLayerVersion": layers.publish_layer_version,
    "GetLayerVersion": layers.get_layer_version,
    "GetLayerVersionByArn": layers.get_layer_version_by_arn,
    "ListLayers": layers.list_layers,
    "ListLayerVersions": layers.list_layer_versions,
    "DeleteLayerVersion": layers.delete_layer_version,
    "AddLayerVersionPermission": layers.add_layer_version_permission,
    "GetLayerVersionPolicy": layers.get_layer_version_policy,
    "RemoveLayerVersionPermission": layers.remove_layer_version_permission,
    "CreateEventSourceMapping": event_sources.create_event_source_mapping,
    "GetEventSourceMapping": event_sources.get_event_source_mapping,
    "UpdateEventSourceMapping": event_sources.update_event_source_mapping,
    "DeleteEventSourceMapping": event_sources.delete_event_source_mapping,
    "ListEventSourceMappings": event_sources.list_event_source_mappings,
}


def pass_role(params: Mapping[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
    """Giving a function a role needs iam:PassRole on it, as on AWS."""
    role = params.get("Role")
    return (("iam:PassRole", str(role)),) if role else ()


def function_policy(context: LambdaContext, resource: str) -> str | None:
    """The resource-based policy of the function a resource ARN names (its AddPermission
    statements), for the gateway's authorization."""
    parts = resource.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        return None
    return context.registry.policy_document(FunctionKey(parts[3], parts[6]))


SERVICE = LambdaService(
    model="lambda",
    signing=SIGNING,
    handlers=HANDLERS,
    validation_error="ValidationException",
    protocols=("rest-json",),
    rest_impl=PROTOCOL,
    authorization=AUTHORIZATION,
    also_requires={"CreateFunction": pass_role, "UpdateFunctionConfiguration": pass_role},
    resource_policy=function_policy,
)
