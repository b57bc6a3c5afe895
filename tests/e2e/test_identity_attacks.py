"""Attacks on the identity work, against the real server: each test performs one attack (from
inside a function with its own environment credentials, or as a hostile client) and fails if
the attack succeeds. The first run found six that did (signing for another region, IAM name
case and paths dodging a Deny; a schedule as a confused deputy); each is fixed and its test
kept here.

Inside functions, two attackers run one boto3 call (or one signed HTTP GET) per invocation:
- `narrow`: a role allowing little (its own configuration, logs and AddPermission, CreateFunction
  and UpdateFunctionConfiguration without iam:PassRole, InvokeFunction on one other function);
- `fenced`: a role allowing lambda:*, logs:* and sts:AssumeRole on everything but with explicit
  Denies on the `vault` function (`function:VAULT` and `function:VAULT:*`) and its log group,
  as AWS's guides write them: every other way of naming the vault must still be refused.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, LAMBDA_TRUST, REGION, SECRET_KEY, Server, create, error_code
from tests.e2e.test_identity import (
    ACCOUNT,
    HELLO,
    client_with,
    new_role,
    new_user,
    policy,
    signed_get,
    unique,
)

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
OTHER_REGION = "eu-west-1"
# Functions are regional: an ARN of another region names no function in the request's region.
OTHER_REGION_CODES = {"arn-other-region": ("ResourceNotFoundException",)}

ATTACKER = {
    "app.py": """
import io
import json
import os
import urllib.error
import urllib.request
import zipfile

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError


def _zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\\n    return 'pwned'\\n")
    return buf.getvalue()


def _get(path, region):
    # A GET signed with this environment's own credentials, as any SDK would sign it.
    creds = boto3.Session().get_credentials().get_frozen_credentials()
    request = AWSRequest(method="GET", url=os.environ["AWS_ENDPOINT_URL"] + path)
    SigV4Auth(creds, "monitoring", region).add_auth(request)
    try:
        with urllib.request.urlopen(
            urllib.request.Request(request.url, headers=dict(request.headers)), timeout=60
        ) as r:
            return {"status": r.status, "body": r.read(2000).decode(errors="replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read(2000).decode(errors="replace")}


def handler(event, context):
    region = event.get("region") or os.environ["AWS_REGION"]
    if "get" in event:
        return _get(event["get"], region)
    client = boto3.client(
        event["service"], region_name=region, config=Config(retries={"max_attempts": 1}, read_timeout=60)
    )
    params = dict(event.get("params") or {})
    if event.get("zip"):
        params["Code"] = {"ZipFile": _zip()}
    try:
        answer = getattr(client, event["method"])(**params)
    except ClientError as e:
        return {"error": e.response["Error"]["Code"], "message": e.response["Error"].get("Message", "")}
    answer.pop("ResponseMetadata", None)
    if "Payload" in answer:
        answer["Payload"] = answer["Payload"].read().decode(errors="replace")
    return {"ok": json.loads(json.dumps(answer, default=str))}
"""
}

VAULT = {
    "app.py": "import os\ndef handler(event, context):\n    return {'vault': os.environ['VAULT_SECRET']}\n"
}


@dataclass(frozen=True)
class Arena:
    vault: str  # a function holding a secret in its environment, with version 1 and alias `live`
    open: str  # the one function `narrow` may invoke
    narrow: str
    fenced: str
    narrow_role: str  # role ARNs
    fenced_role: str
    admin_role: str  # AdministratorAccess, trusting Lambda only
    account_role: str  # AdministratorAccess, trusting the account (arn:aws:iam::ACCT:root)


def fn_arn(name: str, region: str = REGION) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"


@pytest.fixture(scope="module")
def arena(server: Server) -> Arena:
    lam, iam = server.client("lambda"), server.client("iam")
    tag = uuid.uuid4().hex[:6]
    vault, open_fn, narrow, fenced = (f"{k}-{tag}" for k in ("vault", "open", "narrow", "fenced"))
    create(lam, vault, VAULT, Environment={"Variables": {"VAULT_SECRET": "hunter2"}})
    lam.publish_version(FunctionName=vault)
    lam.create_alias(FunctionName=vault, Name="live", FunctionVersion="1")
    create(lam, open_fn, HELLO)

    def role(trust: str, *statements: dict[str, Any], managed: str | None = None) -> str:
        arn = new_role(server, trust, *statements)
        if managed:
            iam.attach_role_policy(RoleName=arn.rpartition("/")[2], PolicyArn=managed)
        return arn

    admin_role = role(LAMBDA_TRUST, managed=ADMIN)
    account_trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    )
    account_role = role(account_trust, managed=ADMIN)
    narrow_role = role(
        LAMBDA_TRUST,
        {
            "Effect": "Allow",
            "Action": ["lambda:GetFunctionConfiguration", "lambda:AddPermission"],
            "Resource": fn_arn(narrow),
        },
        {
            "Effect": "Allow",
            "Action": ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"],
            "Resource": "*",
        },
        {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn_arn(open_fn)},
        {
            "Effect": "Allow",
            "Action": ["logs:FilterLogEvents", "logs:GetLogEvents", "logs:DescribeLogStreams"],
            "Resource": f"arn:aws:logs:*:{ACCOUNT}:log-group:/aws/lambda/{narrow}:*",
        },
    )
    fenced_role = role(
        LAMBDA_TRUST,
        {"Effect": "Allow", "Action": ["lambda:*", "logs:*", "sts:AssumeRole"], "Resource": "*"},
        {"Effect": "Deny", "Action": "lambda:*", "Resource": [fn_arn(vault), fn_arn(vault) + ":*"]},
        {
            "Effect": "Deny",
            "Action": "logs:*",
            "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{vault}:*",
        },
    )
    create(lam, narrow, ATTACKER, Role=narrow_role, Timeout=60)
    create(lam, fenced, ATTACKER, Role=fenced_role, Timeout=60)
    lam.invoke(FunctionName=vault, Payload=b"{}")  # the vault has logs to steal
    return Arena(vault, open_fn, narrow, fenced, narrow_role, fenced_role, admin_role, account_role)


def attack(server: Server, attacker: str, **event: Any) -> dict[str, Any]:
    """Run one call inside `attacker` with its environment's own credentials."""
    answer = server.client("lambda").invoke(FunctionName=attacker, Payload=json.dumps(event).encode())
    body = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, body
    return dict(body)


def refused(outcome: dict[str, Any], *codes: str) -> None:
    """The attack got one of `codes` (AccessDeniedException by default), not an answer."""
    assert "ok" not in outcome, f"the attack succeeded: {outcome}"
    assert outcome["error"] in (codes or ("AccessDeniedException",)), outcome


def name_of(arn: str) -> str:
    return arn.rpartition("/")[2]


# -- from inside a function: IAM ----------------------------------------------------------------


def test_function_cannot_attach_administrator_access_to_its_own_role(server: Server, arena: Arena) -> None:
    role = name_of(arena.narrow_role)
    out = attack(
        server,
        arena.narrow,
        service="iam",
        method="attach_role_policy",
        params={"RoleName": role, "PolicyArn": ADMIN},
    )
    refused(out, "AccessDenied")
    assert server.client("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_function_cannot_put_an_inline_policy_on_its_own_role(server: Server, arena: Arena) -> None:
    role = name_of(arena.narrow_role)
    everything = policy({"Effect": "Allow", "Action": "*", "Resource": "*"})
    out = attack(
        server,
        arena.narrow,
        service="iam",
        method="put_role_policy",
        params={"RoleName": role, "PolicyName": "pwn", "PolicyDocument": everything},
    )
    refused(out, "AccessDenied")
    assert "pwn" not in server.client("iam").list_role_policies(RoleName=role)["PolicyNames"]


def test_function_cannot_create_an_access_key_for_another_user(server: Server, arena: Arena) -> None:
    victim = new_user(server, managed=ADMIN)
    out = attack(
        server,
        arena.narrow,
        service="iam",
        method="create_access_key",
        params={"UserName": victim["UserName"]},
    )
    refused(out, "AccessDenied")
    keys = server.client("iam").list_access_keys(UserName=victim["UserName"])["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [victim["AccessKeyId"]]


def test_function_cannot_rewrite_its_own_roles_trust_policy(server: Server, arena: Arena) -> None:
    role = name_of(arena.narrow_role)
    anyone = policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    out = attack(
        server,
        arena.narrow,
        service="iam",
        method="update_assume_role_policy",
        params={"RoleName": role, "PolicyDocument": anyone},
    )
    refused(out, "AccessDenied")
    trust = server.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust == json.loads(LAMBDA_TRUST)


# -- from inside a function: Lambda's own ways up ------------------------------------------------


def test_function_cannot_create_a_function_with_a_more_powerful_role(server: Server, arena: Arena) -> None:
    name = unique("escalated")
    out = attack(
        server,
        arena.narrow,
        service="lambda",
        method="create_function",
        zip=True,
        params={
            "FunctionName": name,
            "Runtime": "python3.11",
            "Role": arena.admin_role,
            "Handler": "app.handler",
        },
    )
    refused(out)
    assert "iam:PassRole" in out["message"]
    with pytest.raises(ClientError) as missing:
        server.client("lambda").get_function(FunctionName=name)
    assert error_code(missing) == "ResourceNotFoundException"


def test_function_cannot_switch_itself_to_another_role(server: Server, arena: Arena) -> None:
    out = attack(
        server,
        arena.narrow,
        service="lambda",
        method="update_function_configuration",
        params={"FunctionName": arena.narrow, "Role": arena.admin_role},
    )
    refused(out)
    assert "iam:PassRole" in out["message"]
    config = server.client("lambda").get_function_configuration(FunctionName=arena.narrow)
    assert config["Role"] == arena.narrow_role


def test_function_cannot_add_permission_on_another_function(server: Server, arena: Arena) -> None:
    me = f"arn:aws:sts::{ACCOUNT}:assumed-role/{name_of(arena.narrow_role)}/{arena.narrow}"
    for principal in (arena.narrow_role, me, "*"):
        out = attack(
            server,
            arena.narrow,
            service="lambda",
            method="add_permission",
            params={
                "FunctionName": arena.vault,
                "StatementId": unique("let-me-in"),
                "Action": "lambda:InvokeFunction",
                "Principal": principal,
            },
        )
        refused(out)
    with pytest.raises(ClientError) as no_policy:
        server.client("lambda").get_policy(FunctionName=arena.vault)
    assert error_code(no_policy) == "ResourceNotFoundException"
    out = attack(
        server, arena.narrow, service="lambda", method="invoke", params={"FunctionName": arena.vault}
    )
    refused(out)


def test_function_cannot_assume_an_account_trusting_role_without_sts_permission(
    server: Server, arena: Arena
) -> None:
    out = attack(
        server,
        arena.narrow,
        service="sts",
        method="assume_role",
        params={"RoleArn": arena.account_role, "RoleSessionName": "up"},
    )
    refused(out, "AccessDenied")


def test_function_cannot_assume_another_lambda_execution_role(server: Server, arena: Arena) -> None:
    """The fenced role may call sts:AssumeRole on anything, but a role trusting only the Lambda
    service trusts Lambda, not a function's session."""
    out = attack(
        server,
        arena.fenced,
        service="sts",
        method="assume_role",
        params={"RoleArn": arena.admin_role, "RoleSessionName": "up"},
    )
    refused(out, "AccessDenied")


def test_function_cannot_get_a_session_token_with_its_session(server: Server, arena: Arena) -> None:
    out = attack(server, arena.narrow, service="sts", method="get_session_token", params={})
    refused(out, "AccessDenied")


def test_function_cannot_read_another_functions_environment(server: Server, arena: Arena) -> None:
    for method in ("get_function", "get_function_configuration"):
        out = attack(
            server, arena.narrow, service="lambda", method=method, params={"FunctionName": arena.vault}
        )
        refused(out)
        assert "hunter2" not in json.dumps(out)
    # Its own configuration it may read (so the attack above was refused for the target).
    own = attack(
        server,
        arena.narrow,
        service="lambda",
        method="get_function_configuration",
        params={"FunctionName": arena.narrow},
    )
    assert own["ok"]["FunctionName"] == arena.narrow


@pytest.mark.parametrize(
    "form",
    [
        "name",
        "arn",
        "partial",
        "arn-other-region",
        "name:1",
        "name:$LATEST",
        "name:live",
        "arn:1",
        "qualifier-1",
        "qualifier-$LATEST",
        "qualifier-live",
    ],
)
def test_fenced_function_cannot_read_the_vaults_environment(server: Server, arena: Arena, form: str) -> None:
    out = attack(
        server,
        arena.fenced,
        service="lambda",
        method="get_function_configuration",
        params=vault_reference(arena, form),
    )
    refused(out)
    assert "hunter2" not in json.dumps(out)


# -- from inside a function: Invoke's lean path, every way of naming a function -----------------


def vault_reference(arena: Arena, form: str) -> dict[str, str]:
    v = arena.vault
    names = {
        "name": v,
        "arn": fn_arn(v),
        "partial": f"{ACCOUNT}:function:{v}",
        "arn-other-region": fn_arn(v, OTHER_REGION),
        "name:1": f"{v}:1",
        "name:$LATEST": f"{v}:$LATEST",
        "name:live": f"{v}:live",
        "arn:1": fn_arn(v) + ":1",
        "partial:live": f"{ACCOUNT}:function:{v}:live",
    }
    if form == "event":
        return {"FunctionName": v, "InvocationType": "Event"}
    if form == "dry-run":
        return {"FunctionName": v, "InvocationType": "DryRun"}
    if form.startswith("qualifier-"):
        return {"FunctionName": v, "Qualifier": form.partition("-")[2]}
    return {"FunctionName": names[form]}


@pytest.mark.parametrize(
    "form",
    [
        "name",
        "arn",
        "partial",
        "arn-other-region",
        "name:1",
        "name:$LATEST",
        "name:live",
        "arn:1",
        "partial:live",
        "qualifier-1",
        "qualifier-$LATEST",
        "qualifier-live",
        "event",
        "dry-run",
    ],
)
def test_invoke_cannot_dodge_a_deny_by_naming_the_function_differently(
    server: Server, arena: Arena, form: str
) -> None:
    out = attack(server, arena.fenced, service="lambda", method="invoke", params=vault_reference(arena, form))
    # An ARN of another region names no function here (Lambda: ResourceNotFoundException).
    refused(out, *OTHER_REGION_CODES.get(form, ()), "AccessDeniedException")
    assert "hunter2" not in json.dumps(out)


@pytest.mark.parametrize("form", ["name", "arn", "partial", "name:live", "arn-other-region"])
def test_invoke_allowed_on_one_function_reaches_no_other(server: Server, arena: Arena, form: str) -> None:
    out = attack(server, arena.narrow, service="lambda", method="invoke", params=vault_reference(arena, form))
    refused(out, *OTHER_REGION_CODES.get(form, ()), "AccessDeniedException")


def test_invoke_allowed_on_one_function_reaches_it(server: Server, arena: Arena) -> None:
    """The control of the two tests above: the narrow role's one allowed target answers."""
    out = attack(
        server,
        arena.narrow,
        service="lambda",
        method="invoke",
        params={"FunctionName": arena.open, "Payload": '"x"'},
    )
    assert json.loads(out["ok"]["Payload"]) == {"hello": "x"}


def test_invoke_name_case_cannot_reach_a_denied_function(server: Server, arena: Arena) -> None:
    """Function names are case-sensitive: `VAULT` is another (absent) function, never the vault."""
    for name in (arena.vault.upper(), arena.vault.capitalize()):
        out = attack(server, arena.fenced, service="lambda", method="invoke", params={"FunctionName": name})
        refused(out, "AccessDeniedException", "ResourceNotFoundException")
        assert "hunter2" not in json.dumps(out)


def test_invoke_signed_for_another_region_cannot_dodge_a_deny(server: Server, arena: Arena) -> None:
    out = attack(
        server,
        arena.fenced,
        service="lambda",
        method="invoke",
        region=OTHER_REGION,
        params={"FunctionName": arena.vault},
    )
    # The vault is us-east-1's: in another region there is no such function to invoke.
    refused(out, "AccessDeniedException", "ResourceNotFoundException")
    assert "hunter2" not in json.dumps(out)


def test_reading_the_vault_signed_for_another_region_is_refused(server: Server, arena: Arena) -> None:
    out = attack(
        server,
        arena.fenced,
        service="lambda",
        method="get_function_configuration",
        region=OTHER_REGION,
        params={"FunctionName": arena.vault},
    )
    refused(out, "AccessDeniedException", "ResourceNotFoundException")
    assert "hunter2" not in json.dumps(out)


# -- from inside a function: logs and Stratus's own endpoints ----------------------------------


def test_function_cannot_read_another_functions_logs(server: Server, arena: Arena) -> None:
    group = f"/aws/lambda/{arena.vault}"
    streams = server.client("logs").describe_log_streams(logGroupName=group)["logStreams"]
    assert streams  # there is something to steal
    for attacker in (arena.narrow, arena.fenced):
        out = attack(
            server, attacker, service="logs", method="filter_log_events", params={"logGroupName": group}
        )
        refused(out)
        out = attack(
            server,
            attacker,
            service="logs",
            method="get_log_events",
            params={"logGroupName": group, "logStreamName": streams[0]["logStreamName"]},
        )
        refused(out)
    # Its own group the narrow role may read (so the refusal above was for the target).
    own = attack(
        server,
        arena.narrow,
        service="logs",
        method="filter_log_events",
        params={"logGroupName": f"/aws/lambda/{arena.narrow}"},
    )
    assert "events" in own["ok"]


def test_reading_logs_signed_for_another_region_is_refused(server: Server, arena: Arena) -> None:
    out = attack(
        server,
        arena.fenced,
        service="logs",
        method="filter_log_events",
        region=OTHER_REGION,
        params={"logGroupName": f"/aws/lambda/{arena.vault}"},
    )
    # Log groups are regional: in another region the vault's group does not exist, whatever
    # the policy says (refused or not found, its lines never leak).
    refused(out, "AccessDeniedException", "ResourceNotFoundException")


def test_function_cannot_scrape_metrics_or_cost(server: Server, arena: Arena) -> None:
    for path in ("/_stratus/metrics", "/_stratus/cost"):
        out = attack(server, arena.narrow, get=path)
        assert out["status"] == 403, out
        assert "cloudwatch:GetMetricData" in out["body"], out  # refused by policy, not by signature
        # Root, signing the same way, is served (the endpoint is reachable and the signing right).
        assert root_get(server, path)[0] == 200


def root_get(server: Server, path: str) -> tuple[int, str]:
    request = AWSRequest(method="GET", url=server.endpoint + path)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "monitoring", REGION).add_auth(request)
    return http(request.url, dict(request.headers))


def http(
    url: str, headers: dict[str, str], data: bytes | None = None, method: str = "GET"
) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data, headers, method=method), timeout=60
        ) as r:
            return int(r.status), r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode(errors="replace")


# -- hostile clients: session tokens ---------------------------------------------------------------


def user_session(
    server: Server, *statements: dict[str, Any], managed: str | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    user = new_user(server, *statements, managed=managed)
    creds = client_with(server, "sts", user).get_session_token(DurationSeconds=900)["Credentials"]
    return user, {k: creds[k] for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def test_session_token_replayed_with_another_access_key_id(server: Server) -> None:
    _, admin = user_session(server, managed=ADMIN)
    _, nobody = user_session(server)
    # The other session's key and secret (a valid pair) with the admin session's token.
    replayed = dict(nobody, SessionToken=admin["SessionToken"])
    for service, call in (
        ("sts", "get_caller_identity"),
        ("iam", "list_users"),
        ("lambda", "list_functions"),
    ):
        with pytest.raises(ClientError) as refused_:
            getattr(client_with(server, service, replayed), call)()
        assert error_code(refused_) in ("InvalidClientTokenId", "UnrecognizedClientException")
    # The admin session's key with nobody's token: refused as well.
    with pytest.raises(ClientError) as swapped:
        client_with(server, "iam", dict(admin, SessionToken=nobody["SessionToken"])).list_users()
    assert error_code(swapped) == "InvalidClientTokenId"
    client_with(server, "iam", admin).list_users()  # the genuine session works


def test_session_token_of_another_server_is_refused(server: Server, fresh_server: Any) -> None:
    other = fresh_server()  # same root keys, another data dir (another session key)
    root_session = other.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert client_with(other, "sts", root_session).get_caller_identity()["Arn"].endswith(":root")
    with pytest.raises(ClientError) as refused_:
        client_with(server, "iam", root_session).list_users()
    assert error_code(refused_) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as refused_lambda:
        client_with(server, "lambda", root_session).invoke(FunctionName="anything", Payload=b"{}")
    assert error_code(refused_lambda) == "UnrecognizedClientException"


def edited(token: str, **claims: Any) -> str:
    fmt, body, seal = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    decoded.update(claims)
    raw = json.dumps(decoded, separators=(",", ":")).encode()
    return f"{fmt}.{base64.urlsafe_b64encode(raw).decode().rstrip('=')}.{seal}"


def test_session_token_with_edited_claims_is_refused(server: Server) -> None:
    user, session = user_session(server)
    arn = f"arn:aws:iam::{ACCOUNT}:user/{user['UserName']}"
    admin_role = new_role(
        server, policy({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"})
    )
    admin_name = name_of(admin_role)
    server.client("iam").attach_role_policy(RoleName=admin_name, PolicyArn=ADMIN)
    role_id = server.client("iam").get_role(RoleName=admin_name)["Role"]["RoleId"]
    forgeries = {
        "root": edited(session["SessionToken"], h="root", a=f"arn:aws:iam::{ACCOUNT}:root", i=ACCOUNT),
        "admin role": edited(session["SessionToken"], h="assumed-role", a=admin_role, i=role_id),
        "longer life": edited(session["SessionToken"], e=int(time.time()) + 10**6),
    }
    for what, token in forgeries.items():
        forged = dict(session, SessionToken=token)
        with pytest.raises(ClientError) as refused_:
            client_with(server, "sts", forged).get_caller_identity()
        assert error_code(refused_) == "InvalidClientTokenId", what
        with pytest.raises(ClientError) as refused_iam:
            client_with(server, "iam", forged).list_users()
        assert error_code(refused_iam) == "InvalidClientTokenId", what


def test_expired_session_token_is_refused(fresh_server: Any, fn_name: str) -> None:
    server = fresh_server(STRATUS_ENV_CREDENTIAL_SECONDS="4")
    lam = server.client("lambda")
    leak = {
        "app.py": "import os\ndef handler(event, context):\n    return {k: os.environ[k] for k in "
        "('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN')}\n"
    }
    create(
        lam,
        fn_name,
        leak,
        Role=new_role(server, LAMBDA_TRUST, {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}),
    )
    env = json.loads(lam.invoke(FunctionName=fn_name, Payload=b"{}")["Payload"].read())
    creds = {
        "AccessKeyId": env["AWS_ACCESS_KEY_ID"],
        "SecretAccessKey": env["AWS_SECRET_ACCESS_KEY"],
        "SessionToken": env["AWS_SESSION_TOKEN"],
    }
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            client_with(server, "lambda", creds).list_functions()
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ExpiredTokenException"
            break
        time.sleep(0.5)
    else:
        pytest.fail("a session past its expiry was still honoured")
    for service, call, code in (
        ("lambda", "list_functions", "ExpiredTokenException"),
        ("sts", "get_caller_identity", "ExpiredToken"),
        ("iam", "list_roles", "ExpiredToken"),
    ):
        with pytest.raises(ClientError) as expired:
            getattr(client_with(server, service, creds), call)()
        assert error_code(expired) == code
    with pytest.raises(ClientError) as lean:
        client_with(server, "lambda", creds).invoke(FunctionName=fn_name, Payload=b"{}")
    assert error_code(lean) == "ExpiredTokenException"
    # Nor can its expiry be pushed back by editing the token.
    revived = dict(creds, SessionToken=edited(creds["SessionToken"], e=int(time.time()) + 3600))
    with pytest.raises(ClientError) as forged:
        client_with(server, "lambda", revived).list_functions()
    assert error_code(forged) == "UnrecognizedClientException"


# -- hostile clients: users, keys and roles that are gone or replaced ---------------------------


def delete_user(server: Server, name: str) -> None:
    iam = server.client("iam")
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for policy_name in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=policy_name)
    for attached in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_user(UserName=name)


def test_credentials_of_a_deleted_user_are_refused(server: Server) -> None:
    user, session = user_session(
        server, {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}
    )
    client_with(server, "lambda", session).list_functions()
    delete_user(server, user["UserName"])
    for creds in (user, session):
        with pytest.raises(ClientError) as refused_:
            client_with(server, "lambda", creds).list_functions()
        assert error_code(refused_) == "UnrecognizedClientException"
        with pytest.raises(ClientError) as refused_sts:
            client_with(server, "sts", creds).get_caller_identity()
        assert error_code(refused_sts) == "InvalidClientTokenId"


def test_inactive_key_is_refused_on_every_path(server: Server, fn_name: str) -> None:
    lam = server.client("lambda")
    create(
        lam,
        fn_name,
        {"app.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'in'}\n"},
    )
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="AWS_IAM")["FunctionUrl"]
    user = new_user(server, {"Effect": "Allow", "Action": "*", "Resource": "*"})
    assert signed_get(url, user) == 200  # the control: the key works while Active
    server.client("iam").update_access_key(
        UserName=user["UserName"], AccessKeyId=user["AccessKeyId"], Status="Inactive"
    )
    for service, call, kwargs, code in (
        ("sts", "get_caller_identity", {}, "InvalidClientTokenId"),
        ("sts", "get_session_token", {}, "InvalidClientTokenId"),
        ("iam", "list_users", {}, "InvalidClientTokenId"),
        ("lambda", "invoke", {"FunctionName": fn_name, "Payload": b"{}"}, "UnrecognizedClientException"),
        ("logs", "describe_log_groups", {}, "UnrecognizedClientException"),
    ):
        with pytest.raises(ClientError) as refused_:
            getattr(client_with(server, service, user), call)(**kwargs)
        assert error_code(refused_) == code, service
    assert signed_get(url, user) == 403


def test_recreated_user_does_not_honour_the_old_users_credentials(server: Server) -> None:
    user, session = user_session(server)
    name = user["UserName"]
    delete_user(server, name)
    iam = server.client("iam")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=ADMIN)
    for creds in (user, session):
        with pytest.raises(ClientError) as refused_:
            client_with(server, "iam", creds).list_users()
        assert error_code(refused_) == "InvalidClientTokenId"


def test_recreated_role_does_not_honour_the_old_roles_sessions(server: Server) -> None:
    user = new_user(server)
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{user['UserName']}"},
            "Action": "sts:AssumeRole",
        }
    )
    role = new_role(server, trust)
    session = client_with(server, "sts", user).assume_role(RoleArn=role, RoleSessionName="old")["Credentials"]
    iam = server.client("iam")
    iam.delete_role(RoleName=name_of(role))
    iam.create_role(RoleName=name_of(role), AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName=name_of(role), PolicyArn=ADMIN)
    for service, call, code in (
        ("iam", "list_users", "InvalidClientTokenId"),
        ("lambda", "list_functions", "UnrecognizedClientException"),
    ):
        with pytest.raises(ClientError) as refused_:
            getattr(client_with(server, service, session), call)()
        assert error_code(refused_) == code


# -- hostile clients: policy variables and case games ------------------------------------------


def test_username_variable_reaches_only_the_callers_own_user(server: Server) -> None:
    self_service = {
        "Effect": "Allow",
        "Action": [
            "iam:CreateAccessKey",
            "iam:ListAccessKeys",
            "iam:GetUser",
            "iam:UpdateAccessKey",
            "iam:DeleteAccessKey",
        ],
        "Resource": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",
    }
    alice = new_user(server, self_service)
    bob = new_user(server)
    iam = client_with(server, "iam", alice)
    assert iam.list_access_keys()["AccessKeyMetadata"][0]["AccessKeyId"] == alice["AccessKeyId"]
    for victim in (bob["UserName"], bob["UserName"].upper(), f"{alice['UserName']}/../{bob['UserName']}"):
        with pytest.raises(ClientError) as denied:
            iam.create_access_key(UserName=victim)
        assert error_code(denied) in ("AccessDenied", "ValidationError", "NoSuchEntity"), victim
    # Nor can the operations that default to the caller reach another user's key by its id.
    for call in (
        lambda: iam.update_access_key(AccessKeyId=bob["AccessKeyId"], Status="Inactive"),
        lambda: iam.delete_access_key(AccessKeyId=bob["AccessKeyId"]),
    ):
        with pytest.raises(ClientError) as not_hers:
            call()
        assert error_code(not_hers) in ("AccessDenied", "NoSuchEntity")
    keys = server.client("iam").list_access_keys(UserName=bob["UserName"])["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(bob["AccessKeyId"], "Active")]
    # A role session has no aws:username: the same policy on a role grants nothing.
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{alice['UserName']}"},
            "Action": "sts:AssumeRole",
        }
    )
    role = new_role(server, trust, self_service)
    session = client_with(server, "sts", alice).assume_role(RoleArn=role, RoleSessionName=bob["UserName"])
    with pytest.raises(ClientError) as role_denied:
        client_with(server, "iam", session["Credentials"]).create_access_key(UserName=bob["UserName"])
    assert error_code(role_denied) == "AccessDenied"


def test_iam_name_case_cannot_dodge_a_deny(server: Server) -> None:
    victim = new_user(server, managed=ADMIN)
    victim_arn = f"arn:aws:iam::{ACCOUNT}:user/{victim['UserName']}"
    attacker = new_user(
        server,
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": victim_arn},
    )
    iam = client_with(server, "iam", attacker)
    with pytest.raises(ClientError) as denied:
        iam.create_access_key(UserName=victim["UserName"])
    assert error_code(denied) == "AccessDenied"
    with pytest.raises(ClientError) as dodged:
        iam.create_access_key(UserName=victim["UserName"].upper())
    assert error_code(dodged) == "AccessDenied"


def test_iam_path_cannot_dodge_a_deny(server: Server) -> None:
    iam = server.client("iam")
    name = unique("guarded")
    iam.create_role(RoleName=name, Path="/admins/", AssumeRolePolicyDocument=LAMBDA_TRUST)
    attacker = new_user(
        server,
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": f"arn:aws:iam::{ACCOUNT}:role/admins/*"},
    )
    with pytest.raises(ClientError) as denied:
        client_with(server, "iam", attacker).attach_role_policy(RoleName=name, PolicyArn=ADMIN)
    assert error_code(denied) == "AccessDenied"
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []


def test_action_case_in_a_deny_still_denies(server: Server, arena: Arena) -> None:
    user = new_user(
        server,
        {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": ["LAMBDA:invokefunction", "Lambda:GETFUNCTION*"],
            "Resource": [fn_arn(arena.vault), fn_arn(arena.vault) + ":*"],
        },
    )
    lam = client_with(server, "lambda", user)
    for call in (
        lambda: lam.invoke(FunctionName=arena.vault, Payload=b"{}"),
        lambda: lam.invoke(FunctionName=arena.vault, Qualifier="live", Payload=b"{}"),
        lambda: lam.get_function_configuration(FunctionName=arena.vault),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert error_code(denied) == "AccessDeniedException"
    lam.list_functions()  # the Allow stands for what is not denied


def test_resource_arns_are_case_sensitive(server: Server, arena: Arena) -> None:
    """An Allow on `function:VAULT-...` (another case) is not an Allow on the vault."""
    upper = fn_arn(arena.vault.upper())
    user = new_user(
        server,
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction", "lambda:GetFunction*"],
            "Resource": [upper, upper + ":*"],
        },
    )
    lam = client_with(server, "lambda", user)
    for call in (
        lambda: lam.invoke(FunctionName=arena.vault, Payload=b"{}"),
        lambda: lam.get_function_configuration(FunctionName=arena.vault),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert error_code(denied) == "AccessDeniedException"
    with pytest.raises(ClientError) as absent:  # allowed, but no such function: never the vault
        lam.invoke(FunctionName=arena.vault.upper(), Payload=b"{}")
    assert error_code(absent) == "ResourceNotFoundException"


# -- hostile clients: presigned requests to IAM and STS ------------------------------------------


@pytest.mark.parametrize(
    ("service", "query"),
    [("sts", "Action=GetCallerIdentity&Version=2011-06-15"), ("iam", "Action=ListUsers&Version=2010-05-08")],
)
def test_presigned_requests_to_iam_and_sts_are_refused(server: Server, service: str, query: str) -> None:
    root = Credentials(ACCESS_KEY, SECRET_KEY)
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    # The control: the same request signed in its Authorization header is served.
    signed = AWSRequest(method="POST", url=server.endpoint + "/", data=query.encode(), headers=form)
    SigV4Auth(root, service, REGION).add_auth(signed)
    status, _ = http(signed.url, dict(signed.headers), query.encode(), "POST")
    assert status == 200
    # Presigned, as a GET with everything in the query string, and as a POST of the form.
    get = AWSRequest(method="GET", url=f"{server.endpoint}/?{query}")
    SigV4QueryAuth(root, service, REGION, expires=300).add_auth(get)
    status, body = http(get.url, dict(get.headers))
    assert status in (400, 403), body
    assert "resigned" in body, body  # refused as presigned, not for some other fault
    # (botocore moves a presigned POST's form into the query string, as AWS's clients send it)
    fields = dict(pair.split("=") for pair in query.split("&"))
    post = AWSRequest(method="POST", url=server.endpoint + "/", data=fields, headers=form)
    SigV4QueryAuth(root, service, REGION, expires=300).add_auth(post)
    status, body = http(post.url, dict(post.headers), post.body or b"", "POST")
    assert status in (400, 403), body
    assert "resigned" in body, body


# -- whatever else: roles spelled differently, and services invoking on a caller's behalf --------


def test_pass_role_cannot_be_dodged_by_spelling_the_role_differently(
    server: Server, arena: Arena, fn_name: str
) -> None:
    user = new_user(
        server,
        {
            "Effect": "Allow",
            "Action": ["lambda:CreateFunction", "lambda:GetFunction", "iam:PassRole"],
            "Resource": "*",
        },
        {"Effect": "Deny", "Action": "iam:PassRole", "Resource": arena.admin_role},
    )
    lam = client_with(server, "lambda", user)
    name = name_of(arena.admin_role)
    spellings = (
        arena.admin_role,
        f"arn:aws:iam::{ACCOUNT}:role/{name.upper()}",
        f"arn:aws:iam::{ACCOUNT}:role/any/{name}",
        f"arn:aws:iam::{ACCOUNT}:role//{name}",
    )
    for role in spellings:
        with pytest.raises(ClientError) as refused_:
            create(lam, fn_name, HELLO, Role=role)
        assert error_code(refused_) in ("AccessDeniedException", "InvalidParameterValueException"), role
    with pytest.raises(ClientError) as missing:
        server.client("lambda").get_function(FunctionName=fn_name)
    assert error_code(missing) == "ResourceNotFoundException"


def invocations(server: Server, name: str) -> int:
    """How many times a function has started, by its log (0 if it has no log group)."""
    logs = server.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except ClientError:
        return 0
    return sum(1 for e in events if e["message"].startswith("START "))


def test_destination_cannot_invoke_what_the_functions_role_may_not(server: Server, arena: Arena) -> None:
    """A caller allowed to configure its own function's async destination points it at the vault:
    the destination is invoked with the function's execution role, which may not invoke it."""
    lam = server.client("lambda")
    mine = unique("mine")
    create(lam, mine, HELLO)  # the tests' role: no policy at all
    mine_arn = fn_arn(mine)
    user = new_user(
        server,
        {
            "Effect": "Allow",
            "Action": ["lambda:PutFunctionEventInvokeConfig", "lambda:InvokeFunction"],
            "Resource": [mine_arn, mine_arn + ":*"],
        },
    )
    before = invocations(server, arena.vault)
    attacker = client_with(server, "lambda", user)
    try:
        attacker.put_function_event_invoke_config(
            FunctionName=mine, DestinationConfig={"OnSuccess": {"Destination": fn_arn(arena.vault)}}
        )
    except ClientError as e:  # refused when configured: as good as refused when delivered
        assert error_code_of(e) in ("AccessDeniedException", "InvalidParameterValueException")
        return
    attacker.invoke(FunctionName=mine, InvocationType="Event", Payload=b'"to the vault"')
    deadline = time.monotonic() + 60
    warning = f"{mine}'s execution role may not invoke its destination"
    while time.monotonic() < deadline and warning not in server.output():
        assert invocations(server, arena.vault) == before, "the vault was invoked through a destination"
        time.sleep(0.2)
    assert warning in server.output()
    assert invocations(server, arena.vault) == before


def error_code_of(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_a_schedule_cannot_invoke_a_function_its_creator_may_not(fresh_server: Any) -> None:
    server = fresh_server(STRATUS_SCHEDULE_SPEEDUP="60")  # rate(1 minute) fires every second
    victim = unique("victim")
    create(server.client("lambda"), victim, HELLO)
    user = new_user(
        server, {"Effect": "Allow", "Action": ["events:PutRule", "events:PutTargets"], "Resource": "*"}
    )
    events = client_with(server, "events", user)
    events.put_rule(Name="deputy", ScheduleExpression="rate(1 minute)")
    events.put_targets(
        Rule="deputy",
        Targets=[{"Id": "v", "Arn": fn_arn(victim), "Input": json.dumps({"cmd": "drop tables"})}],
    )
    with pytest.raises(ClientError) as denied:  # the caller itself may not invoke the victim
        client_with(server, "lambda", user).invoke(FunctionName=victim, Payload=b"{}")
    assert error_code(denied) == "AccessDeniedException"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "may not invoke" not in server.output():
        assert invocations(server, victim) == 0, "the schedule invoked a function its creator may not"
        time.sleep(0.2)
    assert invocations(server, victim) == 0
