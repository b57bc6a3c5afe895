"""Lambda's authorization table: each operation's IAM action and the ARN of the resource it acts
on, as AWS's Service Authorization Reference ("Actions, resources, and condition keys for AWS
Lambda") and Lambda's "Resources and conditions for Lambda actions" give them. Pure functions;
`service.py` declares `AUTHORIZATION` and Invoke's lean path calls `invoke_resource`.

A function's resource is `arn:aws:lambda:REGION:ACCOUNT:function:NAME`, with `:QUALIFIER` when
the call names a version or alias (in `Qualifier` or in the name): Lambda authorizes a qualified
call against the qualified ARN only, so a policy on `function:NAME` does not reach
`function:NAME:prod` (a policy names `function:NAME:*` for that). Operations on the function as a
whole (PublishVersion, UpdateFunctionCode, the List* of a function...) act on the unqualified
ARN, whatever qualifier the name carries, as their handlers do. Alias operations act on the
alias's ARN. Layer versions are `layer:NAME:VERSION`, PublishLayerVersion acts on `layer:NAME`.
ListFunctions, ListLayers, ListLayerVersions and GetAccountSettings take no resource ("*").

The region and account are always the request's and this server's, never those an ARN in the
input names: Stratus serves one account and ignores an ARN's region when it finds a function
(control/arns.py), so an ARN naming another region must not let a call dodge a policy written
for the function it actually reaches. An input the handler will refuse (another account, a name
the handlers' pattern does not allow) still gets a resource here, never an exception: the call
reaches no function whatever the policy says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stratus.control.arns import function_arn, merge_qualifier, parse_function_ref
from stratus.errors import InvalidParameterValue, ValidationError
from stratus.wire.service import Authorization

# Operations whose IAM action is not `lambda:<Operation>`.
ACTION_NAMES = {
    "Invoke": "InvokeFunction",
    # The reference: "this action also supports GetLayerVersionByArn API".
    "GetLayerVersionByArn": "GetLayerVersion",
}

# Operations on the function, version or alias the call names (in `Qualifier` or the name):
# their handlers act on what is named, so the resource is that ARN.
QUALIFIED_OPERATIONS = (
    "GetFunction",
    "GetFunctionConfiguration",
    "DeleteFunction",
    "Invoke",
    "PutProvisionedConcurrencyConfig",
    "GetProvisionedConcurrencyConfig",
    "DeleteProvisionedConcurrencyConfig",
    "PutFunctionEventInvokeConfig",
    "UpdateFunctionEventInvokeConfig",
    "GetFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig",
    "CreateFunctionUrlConfig",
    "GetFunctionUrlConfig",
    "UpdateFunctionUrlConfig",
    "DeleteFunctionUrlConfig",
    "AddPermission",
    "GetPolicy",
    "RemovePermission",
)
# Operations on the function as a whole: their handlers drop a qualifier written into the name
# (`f:1`), so the resource is the unqualified ARN; `f:1` must not dodge a policy on `function:f`.
FUNCTION_OPERATIONS = (
    "CreateFunction",
    "UpdateFunctionConfiguration",
    "UpdateFunctionCode",
    "PublishVersion",
    "ListVersionsByFunction",
    "ListAliases",
    "PutFunctionConcurrency",
    "GetFunctionConcurrency",
    "DeleteFunctionConcurrency",
    "ListProvisionedConcurrencyConfigs",
    "ListFunctionEventInvokeConfigs",
    "ListFunctionUrlConfigs",
    "GetFunctionCodeSigningConfig",
    "PutFunctionCodeSigningConfig",
    "DeleteFunctionCodeSigningConfig",
)
# Operations on a code signing configuration, named by its ARN in `CodeSigningConfigArn`.
SIGNING_CONFIG_OPERATIONS = (
    "GetCodeSigningConfig",
    "UpdateCodeSigningConfig",
    "DeleteCodeSigningConfig",
    "ListFunctionsByCodeSigningConfig",
)
# Operations on an alias, named by `Name` next to the function (a qualifier in the name is
# dropped by their handlers too).
ALIAS_OPERATIONS = ("CreateAlias", "GetAlias", "UpdateAlias", "DeleteAlias")
# Operations on a tagged resource, named by its ARN in `Resource`.
TAG_OPERATIONS = ("TagResource", "UntagResource", "ListTags")
# Operations on one version of a layer (`LayerName` and `VersionNumber`).
LAYER_VERSION_OPERATIONS = (
    "GetLayerVersion",
    "DeleteLayerVersion",
    "AddLayerVersionPermission",
    "GetLayerVersionPolicy",
    "RemoveLayerVersionPermission",
)
# Operations the reference lists with no resource type: `lambda:<Operation>` on "*", the
# declaration's default, so they have no entry.
UNSCOPED_OPERATIONS = (
    "ListFunctions",
    "GetAccountSettings",
    "ListLayers",
    "ListLayerVersions",
    "CreateCodeSigningConfig",
    "ListCodeSigningConfigs",
    # The reference scopes these by the lambda:FunctionArn condition key, not a resource.
    "CreateEventSourceMapping",
    "ListEventSourceMappings",
)
# Operations on one event source mapping, named by `UUID`.
MAPPING_OPERATIONS = ("GetEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping")

# A function as the model's patterns allow it (wider than the handlers: '.' in DeleteFunction's
# names, another account), for inputs the handlers refuse: the resource then still names the
# function in this account, where a policy is looked for.
_ANY_FUNCTION = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:)?(?:\d{12}:)?"
    r"(?:function:)?(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>[$a-zA-Z0-9_.-]+))?$"
)
# Any Lambda ARN: what follows the account is the resource (`function:f:1`, `layer:l:3`...).
_LAMBDA_ARN = re.compile(r"^arn:[^:]*:lambda:[^:]*:[^:]*:(?P<rest>.+)$")
# A layer named by its ARN rather than its name (the model allows both).
_LAYER_ARN = re.compile(r"^arn:[^:]*:lambda:[^:]*:[^:]*:layer:(?P<name>[^:]+)$")


def _refused(value: str) -> tuple[str, str | None]:
    """(name, qualifier) of a function identifier the handlers refuse: any resource would do,
    since the call reaches no function, but this one reads as the function meant."""
    match = _ANY_FUNCTION.match(value)
    return (match.group("name"), match.group("qualifier")) if match else (value, None)


def _name(value: Any, account: str) -> str:
    """The function name in `value` (a name, a partial or a full ARN, maybe with `:qualifier`),
    as the handlers read it."""
    try:
        return parse_function_ref(str(value), account).name
    except (InvalidParameterValue, ValidationError):
        return _refused(str(value))[0]


def _function(value: Any, qualifier: Any, region: str, account: str) -> str:
    """The ARN of the function, version or alias that `value` and `Qualifier` name, merged as
    the handlers merge them (a name and `Qualifier` that disagree are refused)."""
    try:
        ref = parse_function_ref(str(value), account)
        resolved = merge_qualifier(ref, qualifier if isinstance(qualifier, str) else None)
    except (InvalidParameterValue, ValidationError):
        name, in_name = _refused(str(value))
        given = qualifier if isinstance(qualifier, str) else None
        return function_arn(region, account, name, given or in_name)
    return function_arn(region, account, ref.name, resolved)


def _whole_function(value: Any, alias: Any, region: str, account: str) -> str:
    """The ARN of the function `value` names, without the qualifier a name may carry, or of
    its alias `alias`."""
    return function_arn(region, account, _name(value, account), str(alias) if alias else None)


def invoke_resource(function_name: str, qualifier: str | None, region: str, account: str) -> str:
    """The resource of one Invoke (`lambda:InvokeFunction`), for the lean Invoke path that runs
    without the service declaration."""
    return _function(function_name, qualifier, region, account)


def _rebased(arn: Any, region: str, account: str) -> str:
    """A Lambda ARN from the input, in this server's region and account (see the module's
    docstring); anything else unchanged, for the handler to refuse."""
    match = _LAMBDA_ARN.match(str(arn))
    return f"arn:aws:lambda:{region}:{account}:{match.group('rest')}" if match else str(arn)


def _layer_name(value: Any) -> str:
    match = _LAYER_ARN.match(str(value))
    return match.group("name") if match else str(value)


def _action(operation: str) -> str:
    return f"lambda:{ACTION_NAMES.get(operation, operation)}"


def _on_qualified(operation: str) -> Authorization:
    action = _action(operation)

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return action, _function(params.get("FunctionName", ""), params.get("Qualifier"), region, account)

    return authorize


def _on_function(operation: str) -> Authorization:
    action = _action(operation)

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return action, _whole_function(params.get("FunctionName", ""), None, region, account)

    return authorize


def _on_alias(operation: str) -> Authorization:
    action = _action(operation)

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return action, _whole_function(params.get("FunctionName", ""), params.get("Name"), region, account)

    return authorize


def _on_tagged(operation: str) -> Authorization:
    action = _action(operation)

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return action, _rebased(params.get("Resource", ""), region, account)

    return authorize


def _on_signing_config(operation: str) -> Authorization:
    action = _action(operation)

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return action, _rebased(params.get("CodeSigningConfigArn", ""), region, account)

    return authorize


def _on_layer_version(operation: str) -> Authorization:
    action = _action(operation)

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        name, version = _layer_name(params.get("LayerName", "")), params.get("VersionNumber", "")
        return action, f"arn:aws:lambda:{region}:{account}:layer:{name}:{version}"

    return authorize


def _on_mapping(operation: str) -> Authorization:
    action = _action(operation)

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return action, f"arn:aws:lambda:{region}:{account}:event-source-mapping:{params.get('UUID', '')}"

    return authorize


def _publish_layer_version(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    name = _layer_name(params.get("LayerName", ""))
    return "lambda:PublishLayerVersion", f"arn:aws:lambda:{region}:{account}:layer:{name}"


def _get_layer_version_by_arn(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return _action("GetLayerVersionByArn"), _rebased(params.get("Arn", ""), region, account)


AUTHORIZATION: dict[str, Authorization] = {
    **{op: _on_qualified(op) for op in QUALIFIED_OPERATIONS},
    **{op: _on_function(op) for op in FUNCTION_OPERATIONS},
    **{op: _on_alias(op) for op in ALIAS_OPERATIONS},
    **{op: _on_tagged(op) for op in TAG_OPERATIONS},
    **{op: _on_signing_config(op) for op in SIGNING_CONFIG_OPERATIONS},
    **{op: _on_layer_version(op) for op in LAYER_VERSION_OPERATIONS},
    **{op: _on_mapping(op) for op in MAPPING_OPERATIONS},
    "PublishLayerVersion": _publish_layer_version,
    "GetLayerVersionByArn": _get_layer_version_by_arn,
}
