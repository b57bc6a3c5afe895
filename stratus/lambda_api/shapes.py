"""Rendering control-plane records in Lambda's response shapes. ARNs carry the region the
request was signed for."""

from __future__ import annotations

from typing import Any

from stratus.control.arns import function_arn
from stratus.control.models import LATEST, Alias, FunctionConfig


def function_configuration(cfg: FunctionConfig, region: str, account: str) -> dict[str, Any]:
    qualifier = None if cfg.version == LATEST else cfg.version
    shape: dict[str, Any] = {
        "FunctionName": cfg.name,
        "FunctionArn": function_arn(region, account, cfg.name, qualifier),
        "Runtime": cfg.runtime,
        "Role": cfg.role,
        "Handler": cfg.handler,
        "CodeSize": cfg.code_size,
        "Description": cfg.description,
        "Timeout": cfg.timeout,
        "MemorySize": cfg.memory_size,
        "LastModified": cfg.last_modified,
        "CodeSha256": cfg.code_sha256,
        "Version": cfg.version,
        "TracingConfig": {"Mode": cfg.tracing_mode},
        "RevisionId": cfg.revision_id,
        "State": cfg.state,
        "LastUpdateStatus": cfg.last_update_status,
        "PackageType": "Zip",
        "Architectures": list(cfg.architectures),
        "EphemeralStorage": {"Size": cfg.ephemeral_storage},
        "SnapStart": {
            "ApplyOn": cfg.snap_start,
            "OptimizationStatus": "On" if cfg.uses_snapshot() else "Off",
        },
        "RuntimeVersionConfig": {
            "RuntimeVersionArn": f"arn:aws:lambda:{region}::runtime:stratus-{cfg.runtime}"
        },
        "LoggingConfig": {"LogFormat": cfg.log_format, "LogGroup": cfg.log_group_name},
    }
    if cfg.log_format == "JSON":
        shape["LoggingConfig"]["ApplicationLogLevel"] = cfg.app_log_level or "INFO"
        shape["LoggingConfig"]["SystemLogLevel"] = cfg.system_log_level or "INFO"
    if cfg.environment:
        shape["Environment"] = {"Variables": dict(cfg.environment)}
    if cfg.vpc_config:
        shape["VpcConfig"] = dict(cfg.vpc_config)
    if cfg.kms_key_arn:
        shape["KMSKeyArn"] = cfg.kms_key_arn
    if cfg.dead_letter_arn:
        shape["DeadLetterConfig"] = {"TargetArn": cfg.dead_letter_arn}
    if cfg.layers:
        shape["Layers"] = [{"Arn": arn, "CodeSize": size} for arn, size, _ in cfg.layers]
    return shape


def alias_configuration(name: str, alias: Alias, region: str, account: str) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "AliasArn": function_arn(region, account, name, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.routing:
        shape["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.routing)}
    return shape
