"""The one authorization check every API request of a caller other than root passes through.

The gateway (and the lean Invoke and function URL paths) call `check` with the action and
resource the service declared for the operation; the decision itself is the pure
`evaluate.evaluate`. What is cached: each caller's parsed identity policies, by the
directory's revision (any IAM write invalidates them all), and parsed resource policies by
their text. Nothing else is remembered between requests, so a policy change applies to the
next request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache

from stratus.errors import AccessDenied
from stratus.identity.directory import Directory
from stratus.identity.evaluate import Decision, Principal, Request, evaluate
from stratus.identity.keyring import Caller, assumed_role_arn
from stratus.identity.policy import Policy, parse

Context = Mapping[str, tuple[str, ...]]
_MAX_CACHED_CALLERS = 10_000
_MAX_CACHED_DECISIONS = 100_000


@lru_cache(maxsize=1024)
def resource_policy(text: str) -> Policy:
    return parse(text, "resource")


class Authorizer:
    """Contract: `check` raises AccessDenied (AWS's message, naming the caller, action and
    resource) unless the caller may; root, and everyone when `enabled` is False
    (STRATUS_IAM=off), may do everything. Reads the directory; owns only its caches."""

    def __init__(
        self,
        directory: Directory,
        account_id: str,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self.account_id = account_id
        self.enabled = enabled
        self._clock = clock
        self._policies: dict[str, tuple[int, tuple[Policy, ...]]] = {}
        # Allows that no request context can change (no statement that could apply to the
        # action has a condition or a policy variable), by caller, action, resource and resource
        # policy, with the directory revision they were decided at.
        self._allowed: dict[tuple[str, str, str, str | None], int] = {}
        self._second = -1
        self._times = ("", "")

    def check(
        self,
        caller: Caller,
        action: str,
        resource: str,
        *,
        region: str,
        resource_policy_text: str | None = None,
        extra: Context | None = None,
        source_ip: str | None = None,
    ) -> None:
        if caller.is_root or not self.enabled:
            return
        revision = self._directory.revision
        key = (caller.principal.arn, action, resource, resource_policy_text)
        if extra is None and self._allowed.get(key) == revision:
            return
        identity = self.identity_policies(caller)
        held = resource_policy(resource_policy_text) if resource_policy_text else None
        request = Request(caller.principal, action, resource, self.context(caller, region, extra, source_ip))
        decision = evaluate(request, identity, held, resource_account=self.account_id)
        if decision is Decision.ALLOW:
            if extra is None and context_free(action, identity, held):
                if len(self._allowed) >= _MAX_CACHED_DECISIONS:
                    self._allowed.clear()
                self._allowed[key] = revision
            return
        raise AccessDenied(
            denial(caller.principal.arn, action, resource, self._why(request, identity, decision))
        )

    def service_may(
        self,
        service: str,
        action: str,
        resource: str,
        resource_policy_text: str | None,
        *,
        source_arn: str | None,
        source_account: str | None,
        region: str,
    ) -> bool:
        """Whether an AWS service principal ("events.amazonaws.com") may act on a resource:
        as Lambda does for the services that invoke functions, only by the resource's policy
        (without one, nothing may: else whoever may create a rule could have any function run
        with an input of their choosing, under that function's role)."""
        if not self.enabled:
            return True
        if not resource_policy_text:
            return False
        return service_decision(
            service,
            action,
            resource,
            resource_policy_text,
            source_arn,
            source_account,
            region,
            self.account_id,
        )

    def role_may(
        self,
        role_arn: str,
        session_name: str,
        action: str,
        resource: str,
        *,
        region: str,
        resource_policy_text: str | None = None,
    ) -> bool:
        """Whether a session of `role_arn` may act (what Lambda checks when it uses a function's
        execution role itself, as for an asynchronous invocation's destination)."""
        if not self.enabled:
            return True
        role = self._directory.role_by_arn(role_arn)
        if role is None:
            return False
        principal = Principal(
            assumed_role_arn(self.account_id, role.name, session_name),
            "assumed-role",
            self.account_id,
            role.arn,
        )
        caller = Caller(principal, "", f"{role.role_id}:{session_name}", role_name=role.name)
        try:
            self.check(caller, action, resource, region=region, resource_policy_text=resource_policy_text)
        except AccessDenied:
            return False
        return True

    def identity_policies(self, caller: Caller) -> tuple[Policy, ...]:
        key = caller.principal.arn
        revision = self._directory.revision
        cached = self._policies.get(key)
        if cached is not None and cached[0] == revision:
            return cached[1]
        if caller.role_name is not None:
            policies = self._directory.role_policies(caller.role_name)
        elif caller.user_name is not None:
            policies = self._directory.user_policies(caller.user_name)
        else:
            policies = ()
        if len(self._policies) >= _MAX_CACHED_CALLERS:
            self._policies.clear()
        self._policies[key] = (revision, policies)
        return policies

    def context(
        self, caller: Caller, region: str, extra: Context | None, source_ip: str | None
    ) -> dict[str, tuple[str, ...]]:
        """The global condition keys of one request (lower-cased, as policies are matched)."""
        second = int(self._clock())
        if second != self._second:  # the time keys, formatted once a second
            self._second = second
            self._times = (datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), str(second))
        principal = caller.principal
        context: dict[str, tuple[str, ...]] = {
            "aws:principalarn": (principal.role_arn or principal.arn,),
            "aws:principalaccount": (self.account_id,),
            "aws:principaltype": (_PRINCIPAL_TYPES[principal.kind],),
            "aws:userid": (caller.user_id,),
            "aws:requestedregion": (region,),
            "aws:currenttime": (self._times[0],),
            "aws:epochtime": (self._times[1],),
            "aws:securetransport": ("false",),
            "aws:multifactorauthpresent": ("false",),
        }
        if caller.user_name is not None:
            context["aws:username"] = (caller.user_name,)
        if caller.session is not None:
            context["aws:tokenissuetime"] = (
                datetime.fromtimestamp(caller.session.issued, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        if source_ip:
            context["aws:sourceip"] = (source_ip,)
        if extra:
            context.update(extra)
        return context

    @staticmethod
    def _why(request: Request, identity: tuple[Policy, ...], decision: Decision) -> str:
        if decision is Decision.EXPLICIT_DENY:
            alone = evaluate(request, identity, None)
            where = "identity-based" if alone is Decision.EXPLICIT_DENY else "resource-based"
            return f"with an explicit deny in an {where} policy"
        return f"because no identity-based policy allows the {request.action} action"


def context_free(action: str, identity: tuple[Policy, ...], held: Policy | None) -> bool:
    """Whether a decision on `action` depends on nothing but the caller, the action and the
    resource: no statement that could apply to it has a condition or a policy variable."""
    service = action.lower().partition(":")[0]
    for policy in (*identity, *((held,) if held is not None else ())):
        for statement in policy.for_service(service):
            if statement.conditions or (statement.resources is not None and statement.resources.dynamic):
                return False
    return True


_PRINCIPAL_TYPES = {"root": "Account", "user": "User", "assumed-role": "AssumedRole", "service": "Service"}


def denial(principal_arn: str, action: str, resource: str, why: str) -> str:
    """AWS's message for a refused call."""
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"


@lru_cache(maxsize=4096)
def service_decision(
    service: str,
    action: str,
    resource: str,
    resource_policy_text: str,
    source_arn: str | None,
    source_account: str | None,
    region: str,
    account_id: str,
) -> bool:
    """`Authorizer.service_may`'s decision, a pure function of its arguments (the policy's text
    among them, so a changed policy is a new entry): kept, since an HTTP API asks it on every
    request (about 8 µs of a request's 150)."""
    context: dict[str, tuple[str, ...]] = {"aws:requestedregion": (region,)}
    if source_arn:
        context["aws:sourcearn"] = (source_arn,)
    if source_account:
        context["aws:sourceaccount"] = (source_account,)
    request = Request(Principal(service, "service", None), action, resource, context)
    held = resource_policy(resource_policy_text)
    return evaluate(request, (), held, resource_account=account_id) is Decision.ALLOW
