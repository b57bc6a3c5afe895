"""IAM's policy language: a document parsed and validated as IAM does, compiled for evaluation.

`parse(document, kind)` raises `MalformedPolicy` with the words IAM answers with
(MalformedPolicyDocument); what it returns holds every Action, Resource, Principal and
Condition compiled once, so that `evaluate` builds no pattern per request. Three kinds:
- "identity": a user's, group's or role's policy (inline or managed). Resource is required,
  Principal is refused, Version must be 2012-10-17 (IAM refuses 2008-10-17 and none for them).
- "trust": a role's AssumeRolePolicyDocument. Principal is required, Resource refused, and the
  actions must be STS's.
- "resource": a resource's own policy (a function's, or a trust policy read as the role's).
  Principal is required; a statement without Resource covers the resource it is attached to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from stratus.errors import ClientError
from stratus.identity.conditions import (
    Condition,
    Context,
    Template,
    UnknownOperator,
    compile_condition,
    compiled,
    has_wildcard,
    instant,
    is_static,
    regex_of,
    split_operator,
    template,
    text_of,
)

Kind = Literal["identity", "trust", "resource"]

VERSIONS = ("2012-10-17", "2008-10-17")
SYNTAX = "Syntax errors in policy."
_TOP = {"Version", "Id", "Statement"}
_ELEMENTS = {
    *("Sid", "Effect", "Condition"),
    *("Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal"),
}
VENDOR_MISSING = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
_VENDOR = re.compile(r"[A-Za-z0-9.\-]+")
_SID = re.compile(r"[0-9A-Za-z]*")
_PARTITIONS = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
_ACCOUNT = re.compile(r"\d{12}")
_PRINCIPAL_ARN = re.compile(
    r"arn:[a-z\-]+:(?:iam::\d{12}:(?:root|user/.+|role/.+|federated-user/.+)|sts::\d{12}:assumed-role/[^/]+/.+)"
)
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")
_UNIQUE_ID = re.compile(r"A[A-Z0-9]{15,127}")  # AIDA.../AROA...: what IAM shows for a deleted principal


class MalformedPolicy(ClientError):
    code = "MalformedPolicyDocument"
    status = 400


@dataclass(frozen=True)
class Patterns:
    """Action or Resource patterns of one statement, compiled: exact strings in a set, the
    wildcard ones in one regular expression, and (resources only) the ones holding a policy
    variable, resolved per request."""

    everything: bool = False
    exact: frozenset[str] = frozenset()
    wild: re.Pattern[str] | None = None
    dynamic: tuple[Template, ...] = ()

    def match(self, value: str, context: Context | None = None) -> bool:
        if self.everything or value in self.exact:
            return True
        if self.wild is not None and self.wild.fullmatch(value) is not None:
            return True
        for tokens in self.dynamic:
            source = regex_of(tokens, context)
            if source is not None and compiled(source).fullmatch(value) is not None:
                return True
        return False


@dataclass(frozen=True)
class Principals:
    """A Principal (or NotPrincipal) element. Wildcards are not allowed inside principals, so
    everything here is an exact comparison."""

    anyone: bool = False  # "*" or {"AWS": "*"}
    arns: frozenset[str] = frozenset()  # users, roles, role sessions, account roots
    accounts: frozenset[str] = frozenset()  # from "123456789012" and arn:aws:iam::...:root
    services: frozenset[str] = frozenset()  # lower-cased
    others: frozenset[str] = frozenset()  # Federated, CanonicalUser, unique ids: never matched here


@dataclass(frozen=True)
class Statement:
    sid: str | None
    allow: bool
    actions: Patterns  # lower-cased
    not_action: bool
    resources: Patterns | None  # None: no Resource element (trust and resource policies)
    not_resource: bool
    principals: Principals | None
    not_principal: bool
    conditions: tuple[Condition, ...]
    # The services (action prefixes, lower-cased) the statement can apply to; None for any.
    services: frozenset[str] | None

    def applies(self, action: str, resource: str, context: Context) -> bool:
        """Action, Resource and Condition, for an action already lower-cased (the principal is
        `evaluate`'s business)."""
        if self.actions.match(action) == self.not_action:
            return False
        if self.resources is not None and self.resources.match(resource, context) == self.not_resource:
            return False
        return all(c.holds(context) for c in self.conditions)


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]
    text: str  # the document as given (IAM returns it back URL-encoded; keep the original)
    # Statements by the service they can apply to, so a request looks only at its own.
    _by_service: dict[str, tuple[Statement, ...]] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    _any_service: tuple[Statement, ...] = field(init=False, repr=False, compare=False, hash=False, default=())

    def __post_init__(self) -> None:
        anywhere = tuple(s for s in self.statements if s.services is None)
        named = {svc for s in self.statements if s.services is not None for svc in s.services}
        index = {
            svc: tuple(s for s in self.statements if s.services is None or svc in s.services) for svc in named
        }
        object.__setattr__(self, "_any_service", anywhere)
        object.__setattr__(self, "_by_service", index)

    def for_service(self, service: str) -> tuple[Statement, ...]:
        """The statements that can apply to an action of `service` (lower-cased)."""
        found = self._by_service.get(service)
        return self._any_service if found is None else found


def parse(document: str | Mapping[str, Any], kind: Kind) -> Policy:
    """Validate a policy document as IAM does and compile it; raises MalformedPolicy."""
    if isinstance(document, str):
        text = document
        try:
            raw = json.loads(document, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise MalformedPolicy(SYNTAX) from None
    else:
        raw = document
        text = json.dumps(document)
    return _Parser(kind).run(raw, text)


def _no_constant(name: str) -> None:
    raise ValueError(name)  # NaN and Infinity are not JSON


def _strings(value: Any) -> list[str] | None:
    """A string or a list of strings, as a list; None when it is neither."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _condition_values(value: Any) -> tuple[str, ...] | None:
    """Condition values: strings, or JSON booleans and numbers (the grammar lets them go
    unquoted), as their text."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, int | float):
            out.append(json.dumps(v))
        else:
            return None
    return tuple(out)


class _Parser:
    """One parse. Checks run in IAM's order (syntax over the whole document first, then the
    version, the Sids, the required elements and the values), so that a document with several
    faults is refused with the message IAM would give."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def run(self, raw: Any, text: str) -> Policy:
        if not isinstance(raw, dict) or not set(raw) <= _TOP:
            raise MalformedPolicy(SYNTAX)
        version = raw.get("Version")
        if version is not None and version not in VERSIONS:
            raise MalformedPolicy(SYNTAX)
        if "Id" in raw and not isinstance(raw["Id"], str):
            raise MalformedPolicy(SYNTAX)
        body = raw.get("Statement")
        if isinstance(body, dict):
            body = [body]
        if not isinstance(body, list) or not body:
            raise MalformedPolicy(SYNTAX)
        for st in body:
            self._syntax(st)
        if self.kind == "identity" and version != "2012-10-17":
            raise MalformedPolicy("Policy document must be version 2012-10-17 or greater.")
        version = version or "2008-10-17"
        for st in body:
            if st["Effect"] not in ("Allow", "Deny"):  # right in any case is still refused
                raise MalformedPolicy("The policy failed legacy parsing")
            for element in ("Resource", "NotResource"):
                for resource in _strings(st.get(element, [])) or []:
                    if _resource_problem(resource) is None and _legacy_resource(resource):
                        raise MalformedPolicy("The policy failed legacy parsing")
            for operator, keys in st.get("Condition", {}).items():
                if split_operator(operator)[1].startswith("date"):
                    for values in keys.values():
                        if any(instant(v) is None for v in _condition_values(values) or ()):
                            raise MalformedPolicy("The policy failed legacy parsing")
        self._sids(body)
        for st in body:
            if _missing(st, "Action", "NotAction"):
                raise MalformedPolicy("Policy statement must contain actions.")
        for st in body:
            self._resource_presence(st)
        for st in body:
            for element in ("Resource", "NotResource"):
                for resource in _strings(st.get(element, [])) or []:
                    problem = _resource_problem(resource)
                    if problem is not None:
                        raise MalformedPolicy(problem)
        for st in body:
            for element in ("Action", "NotAction"):
                for action in _strings(st.get(element, [])) or []:
                    self._action_format(action)
            for keys in st.get("Condition", {}).values():
                for key in keys:
                    self._action_format(key)
        for st in body:
            self._principal_presence(st)
        variables = version == "2012-10-17"
        statements = tuple(self._statement(st, variables) for st in body)
        return Policy(version=version, statements=statements, text=text)

    # -- the checks ------------------------------------------------------------------------------

    def _syntax(self, st: Any) -> None:
        if not isinstance(st, dict) or not set(st) <= _ELEMENTS:
            raise MalformedPolicy(SYNTAX)
        if ("Action" in st and "NotAction" in st) or ("Resource" in st and "NotResource" in st):
            raise MalformedPolicy(SYNTAX)
        if ("Principal" in st and "NotPrincipal" in st) or "Effect" not in st:
            raise MalformedPolicy(SYNTAX)
        if not isinstance(st["Effect"], str) or st["Effect"].lower() not in ("allow", "deny"):
            raise MalformedPolicy(SYNTAX)
        for element in ("Action", "NotAction", "Resource", "NotResource"):
            if element in st and _strings(st[element]) is None:
                raise MalformedPolicy(SYNTAX)
        if "Sid" in st and not isinstance(st["Sid"], str):
            raise MalformedPolicy(SYNTAX)
        for element in ("Principal", "NotPrincipal"):
            if element in st:
                self._principal_syntax(st[element])
        condition = st.get("Condition", {})
        if not isinstance(condition, dict):
            raise MalformedPolicy(SYNTAX)
        for operator, keys in condition.items():
            if not isinstance(keys, dict) or any(_condition_values(v) is None for v in keys.values()):
                raise MalformedPolicy(SYNTAX)
            try:
                split_operator(operator)
            except UnknownOperator:
                raise MalformedPolicy(SYNTAX) from None

    @staticmethod
    def _principal_syntax(value: Any) -> None:
        if value == "*":
            return
        if not isinstance(value, dict) or not value:
            raise MalformedPolicy(SYNTAX)
        for kind, names in value.items():
            listed = _strings(names)
            if kind not in ("AWS", "Service", "Federated", "CanonicalUser") or not listed:
                raise MalformedPolicy(SYNTAX)

    def _sids(self, body: list[dict[str, Any]]) -> None:
        seen: set[str] = set()
        for st in body:
            sid = st.get("Sid")
            if not sid:
                continue
            if sid in seen:
                raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique.")
            seen.add(sid)
        if self.kind != "resource":  # IAM's own policies take only letters and digits
            for st in body:
                if not _SID.fullmatch(st.get("Sid") or ""):
                    raise MalformedPolicy(
                        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
                        "regular expression [0-9A-Za-z]*"
                    )

    def _resource_presence(self, st: dict[str, Any]) -> None:
        if self.kind == "trust":
            for element in ("Resource", "NotResource"):
                if element in st:
                    raise MalformedPolicy(f"Has prohibited field {element}")
            return
        absent = "Resource" not in st and "NotResource" not in st
        if (self.kind == "identity" and absent) or (not absent and _missing(st, "Resource", "NotResource")):
            raise MalformedPolicy("Policy statement must contain resources.")

    @staticmethod
    def _action_format(action: str) -> None:
        if action == "*":
            return
        parts = action.split(":")
        if len(parts) == 1:
            raise MalformedPolicy(VENDOR_MISSING)
        if len(parts) > 2:
            raise MalformedPolicy("Actions/Condition can contain only one colon.")
        if not _VENDOR.fullmatch(parts[0]):
            raise MalformedPolicy(f"Vendor {parts[0]} is not valid")

    def _principal_presence(self, st: dict[str, Any]) -> None:
        has = "Principal" in st or "NotPrincipal" in st
        if self.kind == "identity":
            if has:
                raise MalformedPolicy("Policy document should not specify a principal.")
            return
        if self.kind == "trust":
            if "NotPrincipal" in st:
                raise MalformedPolicy("Has prohibited field NotPrincipal")
            for action in _strings(st.get("Action", st.get("NotAction"))) or []:
                if not action.lower().startswith("sts:"):
                    raise MalformedPolicy("AssumeRole policy may only specify STS AssumeRole actions.")
        if not has:
            raise MalformedPolicy("Missing required field Principal")
        if "NotPrincipal" in st and st["Effect"] == "Allow":
            # AWS: NotPrincipal must be used with "Effect": "Deny"; with Allow it would grant
            # everyone but the few it names.
            raise MalformedPolicy("NotPrincipal is supported only with Effect Deny.")
        value: dict[str, Any] | str = st.get("Principal", st.get("NotPrincipal")) or {}
        if not isinstance(value, dict) or self.kind == "resource":
            # "*" is the one string form `_principal_syntax` let through. A resource policy's
            # values are not checked here: the policy is parsed when a request is authorized
            # (its service validates principals when it writes a statement), and a name that
            # is no principal matches nobody rather than failing every caller's request.
            return
        for kind, names in value.items():
            for name in _strings(names) or []:
                if not self._principal_ok(kind, name):
                    raise MalformedPolicy(f'Invalid principal in policy: "{kind}":"{name}"')

    @staticmethod
    def _principal_ok(kind: str, name: str) -> bool:
        if kind == "AWS":
            return (
                name == "*"
                or _ACCOUNT.fullmatch(name) is not None
                or (_PRINCIPAL_ARN.fullmatch(name) is not None and "*" not in name and "?" not in name)
                or _UNIQUE_ID.fullmatch(name) is not None
            )
        if kind == "Service":
            return _SERVICE.fullmatch(name) is not None
        return bool(name)

    # -- compiling -------------------------------------------------------------------------------

    def _statement(self, st: dict[str, Any], variables: bool) -> Statement:
        not_action = "NotAction" in st
        actions = [a.lower() for a in _strings(st.get("NotAction" if not_action else "Action")) or []]
        not_resource = "NotResource" in st
        resource_element = "NotResource" if not_resource else "Resource"
        resources = (
            _patterns(_strings(st[resource_element]) or [], variables=variables)
            if resource_element in st
            else None
        )
        not_principal = "NotPrincipal" in st
        principal_value = st.get("NotPrincipal" if not_principal else "Principal")
        conditions = tuple(
            compile_condition(operator, key, _condition_values(values) or (), variables=variables)
            for operator, keys in st.get("Condition", {}).items()
            for key, values in keys.items()
        )
        services: frozenset[str] | None = None
        if not not_action and "*" not in actions:
            services = frozenset(a.partition(":")[0] for a in actions)
        return Statement(
            sid=st.get("Sid") or None,
            allow=st["Effect"] == "Allow",
            actions=_patterns(actions, variables=False),
            not_action=not_action,
            resources=resources,
            not_resource=not_resource,
            principals=None if principal_value is None else _principals(principal_value),
            not_principal=not_principal,
            conditions=conditions,
            services=services,
        )


def _missing(st: dict[str, Any], element: str, negated: str) -> bool:
    """No element, or an empty list for it (an empty string is a value, refused later)."""
    value = st.get(element, st.get(negated))
    return value is None or value == []


def _resource_problem(resource: str) -> str | None:
    """What IAM says of a Resource that is not an ARN (or "*"), if anything."""
    if resource == "*":
        return None
    parts = resource.split(":")
    if len(parts) == 1:
        return f'Resource {resource} must be in ARN format or "*".'
    partition = parts[1]
    if partition not in _PARTITIONS:
        rest = parts[2:] + ["*"] * max(0, 4 - len(parts[2:]))
        shown = ":".join([partition, *rest[:3], ":".join(rest[3:]) or "*"])
        return f'Partition "{partition}" is not valid for resource "arn:{shown}".'
    if parts[0] != "arn" or len(parts) < 3 or not parts[2] or "*" in parts[2] or "?" in parts[2]:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    return None


def _legacy_resource(resource: str) -> bool:
    """IAM's older parser refuses a shortened ARN with an empty part ("arn:aws:s3::bucket")."""
    return resource != "*" and resource.count(":") < 5 and "::" in resource


def _patterns(values: list[str], *, variables: bool) -> Patterns:
    if "*" in values:
        return Patterns(everything=True)
    exact: set[str] = set()
    wild: list[str] = []
    dynamic: list[Template] = []
    for value in values:
        tokens = template(value, variables)
        if not is_static(tokens):
            dynamic.append(tokens)
        elif has_wildcard(tokens):
            wild.append(regex_of(tokens, None) or "")
        else:
            exact.add(text_of(tokens, None) or "")
    joined = "|".join(f"(?:{w})" for w in wild)
    return Patterns(
        exact=frozenset(exact),
        wild=compiled(joined) if wild else None,
        dynamic=tuple(dynamic),
    )


def _principals(value: Any) -> Principals:
    if value == "*":
        return Principals(anyone=True)
    arns: set[str] = set()
    accounts: set[str] = set()
    services: set[str] = set()
    others: set[str] = set()
    anyone = False
    for kind, names in value.items():
        for name in _strings(names) or []:
            if kind == "AWS":
                if name == "*":
                    anyone = True
                elif _ACCOUNT.fullmatch(name):
                    accounts.add(name)
                elif name.endswith(":root") and name.startswith("arn:"):
                    accounts.add(name.split(":")[4])
                    arns.add(name)
                elif name.startswith("arn:"):
                    arns.add(name)
                else:
                    others.add(name)
            elif kind == "Service":
                services.add(name.lower())
            else:
                others.add(f"{kind}:{name}")
    return Principals(anyone, frozenset(arns), frozenset(accounts), frozenset(services), frozenset(others))
