"""Frozen records of the control plane: a function's configuration, its versions and aliases.

They are plain values. The registry replaces them whole; nobody mutates one in place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from stratus.control.keys import FunctionKey

LATEST = "$LATEST"


@dataclass(frozen=True)
class FunctionConfig:
    """One version's configuration: `$LATEST`, or a published, immutable number."""

    name: str
    runtime: str
    handler: str
    role: str
    code_sha256: str  # base64 of the zip's SHA-256, as Lambda reports it
    code_size: int
    code_key: str  # hex SHA-256: the content address in the code store
    revision_id: str
    last_modified: str
    version: str = LATEST
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    ephemeral_storage: int = 512
    architectures: tuple[str, ...] = ("x86_64",)
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
    # LoggingConfig: levels filter JSON logs only (None: INFO, Lambda's default); the log group
    # defaults to /aws/lambda/NAME.
    app_log_level: str | None = None
    system_log_level: str | None = None
    log_group: str | None = None
    state: str = "Active"
    last_update_status: str = "Successful"
    # Stratus's own setting, from the function's `stratus:network` tag: "default" (the host's
    # network, as Lambda functions have) or "none" (a network namespace with no interfaces).
    network: str = "default"
    # SnapStart.ApplyOn ("None" or "PublishedVersions"), and Stratus's own setting to apply it to
    # $LATEST too (the `stratus:snapstart` tag set to `latest`).
    snap_start: str = "None"
    snap_latest: bool = False
    # Layers, in the order they apply at /opt: (layer version ARN, size, content key). The key
    # is kept so a function runs on even after the layer version is deleted, as on Lambda.
    layers: tuple[tuple[str, int, str], ...] = ()
    # The region CreateFunction was signed for: each region is its own namespace of functions,
    # and this is the function's (the store's migration set it on records kept before it was).
    home_region: str = ""
    # Kept and answered as Lambda answers them, with no effect here (README: "What has no
    # effect"): VpcConfig's subnets and security groups (an environment has the host's network
    # or none), and the KMS key Lambda would encrypt environment variables with (the data dir
    # is private to the server instead).
    vpc_config: dict[str, Any] = field(default_factory=dict)
    kms_key_arn: str = ""
    # DeadLetterConfig.TargetArn: the SQS queue or SNS topic an asynchronous event goes to once
    # its retries are spent ("" for none).
    dead_letter_arn: str = ""

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"

    @property
    def key(self) -> FunctionKey:
        """The function this configuration belongs to: its region and name."""
        return FunctionKey(self.home_region, self.name)

    def uses_snapshot(self) -> bool:
        """Whether new environments of this configuration fork from an initialized one."""
        if self.version == LATEST:
            return self.snap_latest
        return self.snap_start == "PublishedVersions"

    def replace(self, **changes: Any) -> FunctionConfig:
        return dataclasses.replace(self, **changes)

    def content_digest(self) -> str:
        """A digest of the code and configuration a version would be published with: everything
        but the version's own identity (number, revision, time)."""
        data = {
            k: v for k, v in self.to_dict().items() if k not in ("version", "revision_id", "last_modified")
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def runtime_key(self) -> tuple[Any, ...]:
        """What an execution environment is built from: a change here retires old environments."""
        return (
            self.name,
            self.version,
            self.runtime,
            self.handler,
            self.code_key,
            self.timeout,
            self.memory_size,
            tuple(sorted(self.environment.items())),
            self.ephemeral_storage,
            self.log_format,
            self.app_log_level,
            self.system_log_level,
            self.log_group,
            self.network,
            self.snap_start,
            self.snap_latest,
            tuple(key for _, _, key in self.layers),
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["architectures"] = list(self.architectures)
        data["layers"] = [list(layer) for layer in self.layers]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionConfig:
        data = dict(data)
        data["architectures"] = tuple(data.get("architectures", ("x86_64",)))
        data["layers"] = tuple(tuple(layer) for layer in data.get("layers", ()))
        data.setdefault("network", "default")
        data.setdefault("snap_start", "None")
        data.setdefault("snap_latest", False)
        return cls(**data)


@dataclass(frozen=True)
class Alias:
    name: str
    function_version: str
    revision_id: str
    description: str = ""
    # Extra versions and the share of traffic each receives (0.0 - 1.0).
    routing: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alias:
        return cls(**data)


@dataclass(frozen=True)
class ProvisionedConcurrency:
    """PutProvisionedConcurrencyConfig on a published version or an alias."""

    qualifier: str
    requested: int
    region: str  # environments are built for the region the configuration was made in
    last_modified: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProvisionedConcurrency:
        return cls(**data)


@dataclass(frozen=True)
class EventInvokeConfig:
    """Put/UpdateFunctionEventInvokeConfig for one qualifier ($LATEST, a version or an alias)."""

    qualifier: str
    max_retries: int | None = None
    max_age_s: int | None = None
    on_success: str | None = None  # destination ARNs
    on_failure: str | None = None
    last_modified: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventInvokeConfig:
        return cls(**data)


@dataclass(frozen=True)
class FunctionUrl:
    """A function URL on `$LATEST` or an alias. `cors` keeps the API's own (Pascal-case) shape."""

    url_id: str
    qualifier: str
    auth_type: str
    creation_time: str
    last_modified: str
    cors: dict[str, Any] | None = None
    invoke_mode: str = "BUFFERED"
    region: str = "us-east-1"  # the region it was created in; its event's domain name says so

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionUrl:
        return cls(**data)


@dataclass(frozen=True)
class FunctionRecord:
    """Everything the registry keeps about one function. Stored as one row."""

    latest: FunctionConfig
    versions: dict[str, FunctionConfig] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    last_version: int = 0
    provisioned: dict[str, ProvisionedConcurrency] = field(default_factory=dict)
    event_invoke: dict[str, EventInvokeConfig] = field(default_factory=dict)
    urls: dict[str, FunctionUrl] = field(default_factory=dict)
    # Resource-based policy statements (AddPermission), by qualifier ("" for the function).
    # Stored and returned as Lambda does, and enforced (identity/guard.py, Authorizer.service_may).
    policy: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    # What $LATEST's code and configuration were when the last version was published (a digest:
    # `content_digest`): PublishVersion makes a new version only when they changed since, as
    # Lambda does, a description changed by UpdateFunctionConfiguration included. "" for records
    # published before it was kept.
    published_content: str = ""
    # The code signing configuration (its ARN) new code of the function is held to; "" for none.
    code_signing_config: str = ""

    @property
    def name(self) -> str:
        return self.latest.name

    @property
    def key(self) -> FunctionKey:
        return self.latest.key

    def replace(self, **changes: Any) -> FunctionRecord:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "latest": self.latest.to_dict(),
            "versions": {k: v.to_dict() for k, v in self.versions.items()},
            "aliases": {k: v.to_dict() for k, v in self.aliases.items()},
            "tags": self.tags,
            "reserved_concurrency": self.reserved_concurrency,
            "last_version": self.last_version,
            "provisioned": {k: v.to_dict() for k, v in self.provisioned.items()},
            "event_invoke": {k: v.to_dict() for k, v in self.event_invoke.items()},
            "urls": {k: v.to_dict() for k, v in self.urls.items()},
            "policy": {k: list(v) for k, v in self.policy.items()},
            "published_content": self.published_content,
            "code_signing_config": self.code_signing_config,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FunctionRecord:
        return cls(
            latest=FunctionConfig.from_dict(data["latest"]),
            versions={k: FunctionConfig.from_dict(v) for k, v in data["versions"].items()},
            aliases={k: Alias.from_dict(v) for k, v in data["aliases"].items()},
            tags=dict(data["tags"]),
            reserved_concurrency=data["reserved_concurrency"],
            last_version=data["last_version"],
            provisioned={
                k: ProvisionedConcurrency.from_dict(v) for k, v in data.get("provisioned", {}).items()
            },
            event_invoke={k: EventInvokeConfig.from_dict(v) for k, v in data.get("event_invoke", {}).items()},
            urls={k: FunctionUrl.from_dict(v) for k, v in data.get("urls", {}).items()},
            policy={k: tuple(v) for k, v in data.get("policy", {}).items()},
            published_content=data.get("published_content", ""),
            code_signing_config=data.get("code_signing_config", ""),
        )
