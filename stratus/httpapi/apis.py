"""The owner of HTTP APIs: the only writer of their records, in memory and in the store.

Each write is one store transaction on the event loop, then the record is swapped in whole, with
its deployments' parsed route tables, so the data path matches a request without parsing or
locking.

A stage serves the deployment it points at, as API Gateway's do: a deployment captures the
API's routes and integrations when it is made, and a stage with autoDeploy gets a new one at
every change of them (a stage without a deployment serves nothing). CORS stays the API's live
setting.

Each region is its own namespace, as on API Gateway: an API is listed, read and changed only in
the region it was created in (`Api.region`). Ids stay unique across regions, so the data path
finds an API by id alone (`/_stratus/api/<id>`), or by id and the region its host names.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, replace
from typing import Any

from stratus.control.keys import DEFAULT_REGION
from stratus.errors import BadRequest, Conflict, DiskFull, NotFound
from stratus.httpapi import routing
from stratus.httpapi.models import Api, Deployment, Integration, Route, Stage, new_id, now_iso
from stratus.store.sqlite import Store

KIND = "httpapi"
DEFAULT_STAGE = "$default"
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$"
)
_INVOCATION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$"
)


@dataclass(frozen=True)
class Landing:
    """Where a request to an API lands: the stage, the route and its integration."""

    api: Api
    stage: Stage
    route: Route
    route_key: routing.RouteKey
    integration: Integration
    path_parameters: dict[str, str]


def function_of(integration_uri: str) -> str | None:
    """The function ARN an AWS_PROXY integration names, in either form API Gateway accepts."""
    invocation = _INVOCATION_ARN.match(integration_uri)
    arn = invocation.group(1) if invocation else integration_uri
    return arn if _FUNCTION_ARN.match(arn) else None


@dataclass(frozen=True)
class FunctionTarget:
    name: str
    qualifier: str | None
    region: str


def target_of(integration: Integration) -> FunctionTarget:
    """The function (and the region of its ARN) an integration invokes. Integrations are
    validated when written, so the ARN is well-formed."""
    parts = (function_of(integration.integrationUri) or "").split(":")
    if len(parts) < 7:
        return FunctionTarget("", None, DEFAULT_REGION)
    return FunctionTarget(parts[6], parts[7] if len(parts) > 7 else None, parts[3])


class HttpApis:
    def __init__(self, store: Store) -> None:
        self._store = store
        # Every API of every region by id: ids are unique across regions (the data path's
        # `/_stratus/api/<id>` names no region); each record says its region.
        self._apis = {api_id: Api.from_json(text) for api_id, text in store.load_documents(KIND).items()}
        # (api id, deployment id) -> its parsed routes
        self._tables: dict[tuple[str, str], list[tuple[routing.RouteKey, Route]]] = {}
        for api_id, api in list(self._apis.items()):
            migrated = api
            if not migrated.snapshots:
                migrated = _deploy_what_was_served(migrated)
            if not migrated.region:  # kept before regions were: placed once, then stored
                migrated = migrated.replace(region=home_region(migrated))
            if migrated is not api:
                api = self._apis[api_id] = migrated
                with contextlib.suppress(DiskFull):  # kept in memory; written at the next change
                    store.put_document(KIND, api_id, api.to_json())
            self._table(api)

    # -- reads -----------------------------------------------------------------------------

    def list(self, region: str) -> list[Api]:
        """The APIs of one region: each region is its own namespace, as on API Gateway."""
        mine = (a for a in self._apis.values() if a.region == region)
        return sorted(mine, key=lambda a: a.createdDate + a.apiId)

    def get(self, region: str, api_id: str) -> Api:
        """An API of `region`; one of another region is not found there, as on API Gateway
        (ids stay unique across regions, so its id is never reused for another)."""
        api = self._apis.get(api_id)
        if api is None or api.region != region:
            raise NotFound(f"Invalid API identifier specified {api_id}")
        return api

    def find(self, api_id: str) -> Api | None:
        """An API by id alone, whatever its region: the data path's `/_stratus/api/<id>` form
        names no region, and ids are unique across regions."""
        return self._apis.get(api_id)

    def land(self, api_id: str, method: str, path: str, region: str | None = None) -> Landing | None:
        """Route a request; `path` includes the stage prefix unless the stage is $default.
        `region` is the one the request's host names (`<id>.execute-api.<region>...`), if it
        names one: an API of another region is not there."""
        api = self._apis.get(api_id)
        if api is None or api.disableExecuteApiEndpoint or region not in (None, api.region):
            return None
        stage = api.stages.get(DEFAULT_STAGE)
        route_path = path
        first, _, rest = path.lstrip("/").partition("/")
        if first and first in api.stages and first != DEFAULT_STAGE:
            stage, route_path = api.stages[first], "/" + rest
        if stage is None or stage.deploymentId is None:
            return None
        deployment = api.deployments.get(stage.deploymentId)
        if deployment is None:
            return None
        chosen = routing.select(self._tables.get((api_id, deployment.deploymentId), []), method, route_path)
        if chosen is None:
            return None
        key, route, params = chosen
        integration = deployment.integrations.get(route.integration_id() or "")
        if integration is None:
            return None
        return Landing(api, stage, route, key, integration, params)

    # -- APIs ------------------------------------------------------------------------------

    def create_api(self, api: Api) -> Api:
        api = _auto_deploy(api)  # quick create's $default stage deploys at once
        self._commit(api)
        return api

    def update_api(self, region: str, api_id: str, **changes: Any) -> Api:
        api = self.get(region, api_id).replace(**changes)
        self._commit(api)
        return api

    def delete_api(self, region: str, api_id: str) -> None:
        self.get(region, api_id)
        self._store.delete_document(KIND, api_id)
        del self._apis[api_id]
        for key in [k for k in self._tables if k[0] == api_id]:
            del self._tables[key]

    # -- routes ----------------------------------------------------------------------------

    def put_route(self, region: str, api_id: str, route: Route) -> Route:
        api = self.get(region, api_id)
        key = _parse_route_key(route.routeKey)
        for other in api.routes.values():
            if other.routeId != route.routeId and routing.parse(other.routeKey).shape() == key.shape():
                raise Conflict(
                    f"Unable to create route {route.routeKey}: it conflicts with the existing "
                    f"route {other.routeKey}."
                )
        if route.target is not None:
            integration_id = route.integration_id()
            if integration_id is None or integration_id not in api.integrations:
                raise BadRequest(
                    f"Invalid target {route.target}: use integrations/ and an existing integration id."
                )
        self._commit(_auto_deploy(api.replace(routes={**api.routes, route.routeId: route})))
        return route

    def route(self, region: str, api_id: str, route_id: str) -> Route:
        found = self.get(region, api_id).routes.get(route_id)
        if found is None:
            raise NotFound(f"Invalid Route identifier specified {route_id}")
        return found

    def delete_route(self, region: str, api_id: str, route_id: str) -> None:
        api = self.get(region, api_id)
        self.route(region, api_id, route_id)
        self._commit(_auto_deploy(api.replace(routes={k: v for k, v in api.routes.items() if k != route_id})))

    # -- integrations ----------------------------------------------------------------------

    def put_integration(self, region: str, api_id: str, integration: Integration) -> Integration:
        api = self.get(region, api_id)
        changed = api.replace(integrations={**api.integrations, integration.integrationId: integration})
        self._commit(_auto_deploy(changed))
        return integration

    def integration(self, region: str, api_id: str, integration_id: str) -> Integration:
        found = self.get(region, api_id).integrations.get(integration_id)
        if found is None:
            raise NotFound(f"Invalid Integration identifier specified {integration_id}")
        return found

    def delete_integration(self, region: str, api_id: str, integration_id: str) -> None:
        api = self.get(region, api_id)
        self.integration(region, api_id, integration_id)
        users = [r.routeKey for r in api.routes.values() if r.integration_id() == integration_id]
        if users:
            raise Conflict(f"Integration {integration_id} is in use by routes: {', '.join(users)}")
        self._commit(
            _auto_deploy(
                api.replace(integrations={k: v for k, v in api.integrations.items() if k != integration_id})
            )
        )

    # -- stages and deployments ------------------------------------------------------------

    def put_stage(self, region: str, api_id: str, stage: Stage, *, create: bool) -> Stage:
        api = self.get(region, api_id)
        if create:
            if stage.stageName != DEFAULT_STAGE and not _STAGE_NAME.match(stage.stageName):
                raise BadRequest("Stage name must be $default or 1-128 letters, digits, - or _.")
            if stage.stageName in api.stages:
                raise Conflict(f"Stage {stage.stageName} already exists")
        if stage.deploymentId is not None and stage.deploymentId not in api.deployments:
            raise NotFound(f"Invalid deployment identifier specified {stage.deploymentId}")
        before = api.stages.get(stage.stageName)
        api = api.replace(stages={**api.stages, stage.stageName: stage})
        if stage.autoDeploy and (before is None or not before.autoDeploy):
            api = _auto_deploy(api, only=stage.stageName)  # turning autoDeploy on deploys
        self._commit(api)
        return api.stages[stage.stageName]

    def stage(self, region: str, api_id: str, name: str) -> Stage:
        found = self.get(region, api_id).stages.get(name)
        if found is None:
            raise NotFound(f"Invalid stage identifier specified {name}")
        return found

    def delete_stage(self, region: str, api_id: str, name: str) -> None:
        api = self.get(region, api_id)
        self.stage(region, api_id, name)
        self._commit(api.replace(stages={k: v for k, v in api.stages.items() if k != name}))

    def create_deployment(
        self, region: str, api_id: str, description: str | None, stage_name: str | None
    ) -> Deployment:
        api = self.get(region, api_id)
        if not api.routes:
            raise BadRequest("Unable to deploy API because no routes exist in this API")
        deployment = _snapshot(api, description, auto=False)
        stages = dict(api.stages)
        if stage_name is not None:
            stage = self.stage(region, api_id, stage_name)
            stages[stage_name] = Stage(
                **{**stage.__dict__, "deploymentId": deployment.deploymentId, "lastUpdatedDate": now_iso()}
            )
        self._commit(
            api.replace(deployments={**api.deployments, deployment.deploymentId: deployment}, stages=stages)
        )
        return deployment

    # -- internals -------------------------------------------------------------------------

    def _commit(self, api: Api) -> None:
        self._store.put_document(KIND, api.apiId, api.to_json())
        self._apis[api.apiId] = api
        self._table(api)

    def _table(self, api: Api) -> None:
        for deployment in api.deployments.values():
            key = (api.apiId, deployment.deploymentId)
            if key not in self._tables:  # a deployment never changes: parsed once
                self._tables[key] = [(routing.parse(r.routeKey), r) for r in deployment.routes.values()]


def home_region(api: Api) -> str:
    """Where an API kept before regions were goes: the region its integrations' function ARNs
    name (the live ones first, then its deployments', each in id order; the first that names
    one wins, so every start decides the same), else us-east-1, the default region. Its
    integrations' functions then stay in the API's own region, as they were created there."""
    captured = [d.integrations for _, d in sorted(api.deployments.items())]
    for integrations in (api.integrations, *captured):
        for _, integration in sorted(integrations.items()):
            if function_of(integration.integrationUri) is not None:
                return target_of(integration).region
    return DEFAULT_REGION


def _snapshot(api: Api, description: str | None, *, auto: bool) -> Deployment:
    return Deployment(
        new_id(6),
        now_iso(),
        description,
        autoDeployed=auto,
        routes=dict(api.routes),
        integrations=dict(api.integrations),
    )


def _auto_deploy(api: Api, only: str | None = None) -> Api:
    """A new deployment for the stages with autoDeploy (or for `only`), when there is anything to
    deploy: API Gateway deploys automatically at each change of such a stage's API."""
    names = [n for n, s in api.stages.items() if s.autoDeploy and (only is None or n == only)]
    # With no routes there is nothing to deploy, unless a stage serves routes since removed.
    if not names or (not api.routes and all(api.stages[n].deploymentId is None for n in names)):
        return api
    deployment = _snapshot(
        api, "Automatic deployment triggered by changes to the Api configuration", auto=True
    )
    stages = dict(api.stages)
    for name in names:
        stages[name] = replace(stages[name], deploymentId=deployment.deploymentId, lastUpdatedDate=now_iso())
    return api.replace(deployments={**api.deployments, deployment.deploymentId: deployment}, stages=stages)


def _deploy_what_was_served(api: Api) -> Api:
    """A record kept before deployments captured routes: its stages served the live routes, so
    each now points at a deployment of them and goes on serving the same."""
    api = api.replace(snapshots=True)
    if not api.stages or not api.routes:
        return api
    deployment = _snapshot(api, "Deployment of the routes served before deployments were kept", auto=False)
    stages = {n: replace(s, deploymentId=deployment.deploymentId) for n, s in api.stages.items()}
    return api.replace(deployments={**api.deployments, deployment.deploymentId: deployment}, stages=stages)


def _parse_route_key(route_key: str) -> routing.RouteKey:
    try:
        return routing.parse(route_key)
    except routing.BadRouteKey as e:
        raise BadRequest(str(e)) from None
