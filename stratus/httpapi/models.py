"""Frozen records of HTTP APIs (API Gateway v2): the API, its routes, integrations and stages.

Fields are kept in the API's own camelCase wire names so that a record is its own response
shape; the owner (`apis.HttpApis`) replaces records whole.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Route:
    routeId: str
    routeKey: str
    target: str | None = None
    authorizationType: str = "NONE"
    apiKeyRequired: bool = False
    operationName: str | None = None
    apiGatewayManaged: bool = False

    def integration_id(self) -> str | None:
        if self.target and self.target.startswith("integrations/"):
            return self.target.removeprefix("integrations/")
        return None


@dataclass(frozen=True)
class Integration:
    integrationId: str
    integrationType: str
    integrationUri: str
    payloadFormatVersion: str
    integrationMethod: str = "POST"
    timeoutInMillis: int = 30000
    connectionType: str = "INTERNET"
    description: str | None = None
    apiGatewayManaged: bool = False


@dataclass(frozen=True)
class Stage:
    stageName: str
    createdDate: str
    lastUpdatedDate: str
    autoDeploy: bool = False
    description: str | None = None
    stageVariables: dict[str, str] = field(default_factory=dict)
    deploymentId: str | None = None
    apiGatewayManaged: bool = False
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Deployment:
    deploymentId: str
    createdDate: str
    description: str | None = None
    autoDeployed: bool = False
    deploymentStatus: str = "DEPLOYED"
    # What it captured: the routes and integrations a stage pointing at it serves. Not part of
    # the wire shape (`wire` leaves these names out).
    routes: dict[str, Route] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            **{k: v for k, v in data.items() if k not in ("routes", "integrations")},
            routes={k: Route(**v) for k, v in data.get("routes", {}).items()},
            integrations={k: Integration(**v) for k, v in data.get("integrations", {}).items()},
        )


@dataclass(frozen=True)
class Api:
    apiId: str
    name: str
    createdDate: str
    protocolType: str = "HTTP"
    description: str | None = None
    version: str | None = None
    corsConfiguration: dict[str, Any] | None = None  # Pascal case, as `cors.validate` returns it
    disableExecuteApiEndpoint: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    deployments: dict[str, Deployment] = field(default_factory=dict)
    # Whether stages serve their deployments' snapshots: False in records kept before
    # deployments captured anything, when every stage served the live routes (`HttpApis`
    # migrates those at load by deploying what they served).
    snapshots: bool = True
    # The region it lives in (the one CreateApi was signed for); empty in records kept before
    # regions were, which `HttpApis` places at load (`apis.home_region`).
    region: str = ""

    def replace(self, **changes: Any) -> Api:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Api:
        data = json.loads(text)
        data.setdefault("snapshots", False)
        return cls(
            **{k: v for k, v in data.items() if k not in ("routes", "integrations", "stages", "deployments")},
            routes={k: Route(**v) for k, v in data["routes"].items()},
            integrations={k: Integration(**v) for k, v in data["integrations"].items()},
            stages={k: Stage(**v) for k, v in data["stages"].items()},
            deployments={k: Deployment.from_dict(v) for k, v in data["deployments"].items()},
        )


def wire(record: Any) -> dict[str, Any]:
    """A record as the API returns it: camelCase, without empty optional members."""
    out = {}
    for f in dataclasses.fields(record):
        if f.name in ("routes", "integrations", "stages", "deployments", "snapshots", "region"):
            continue
        value = getattr(record, f.name)
        if value is not None:
            out[f.name] = value
    return out
