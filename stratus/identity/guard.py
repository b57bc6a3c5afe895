"""The caller of the request being served, and the dispatch guard that authorizes it.

Every declared service's operation is checked here, in one place, from what the service
declares: the operation's IAM action and resource (`Service.action`) and, where the service has
them, the resource's policy (`Service.resource_policy`). Handlers never authorize, but for an
operation that answers for each of many resources (`caller_may`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from stratus.errors import StratusError
from stratus.identity.authorizer import Authorizer
from stratus.identity.keyring import Caller
from stratus.wire.dispatch import Guard
from stratus.wire.service import RequestKeys, Service

# The signer of the request being served, set by the gateway around each dispatch (in the task
# serving the request): read by the few handlers whose answer is about the caller
# (sts:GetCallerIdentity, iam:GetUser without a name).
CALLER: ContextVar[Caller | None] = ContextVar("caller", default=None)


def guard(authorizer: Authorizer, caller: Caller, source_ip: str | None = None) -> Guard | None:
    """The guard for one request of `caller`; None when nothing is to be checked (root, or
    STRATUS_IAM=off), so that those requests pay for nothing."""
    if caller.is_root or not authorizer.enabled:
        return None

    def check(
        service: Service[Any], context: Any, operation: str, params: Mapping[str, Any], region: str
    ) -> None:
        if operation in service.public_operations:
            return
        action, resource = service.action(operation, params, region, authorizer.account_id)
        # The service's own condition keys, by the (action, resource) they describe: looked up
        # before the resource is made canonical, as the service named it.
        keyed = service.condition_keys.get(operation)
        keys = keyed(context, params, region, authorizer.account_id) if keyed is not None else _NO_KEYS
        extra = keys.get((action, resource))
        if service.canonical_resource is not None:
            resource = service.canonical_resource(context, resource)
        held = service.resource_policy(context, resource) if service.resource_policy else None
        authorizer.check(
            caller,
            action,
            resource,
            region=region,
            resource_policy_text=held,
            extra=extra,
            source_ip=source_ip,
        )
        needs = service.also_requires.get(operation)
        for also_action, also_resource in needs(params, region, authorizer.account_id) if needs else ():
            authorizer.check(
                caller,
                also_action,
                also_resource,
                region=region,
                extra=keys.get((also_action, also_resource)),
                source_ip=source_ip,
            )

    return check


_NO_KEYS: RequestKeys = {}


def current_caller() -> Caller:
    """The caller of the request being served (root outside one: internal calls)."""
    caller = CALLER.get()
    if caller is None:
        raise RuntimeError("no request is being served")
    return caller


def caller_may(authorizer: Authorizer) -> Callable[[str, str, str], bool]:
    """Whether the caller of the request being served may do `action` on `resource` in
    `region`: for operations that act on many resources and answer for each (S3's
    DeleteObjects refuses the keys a caller may not delete, one by one)."""

    def may(action: str, resource: str, region: str) -> bool:
        caller = CALLER.get()
        if caller is None or caller.is_root or not authorizer.enabled:
            return True
        try:
            authorizer.check(caller, action, resource, region=region)
        except StratusError:
            return False
        return True

    return may
