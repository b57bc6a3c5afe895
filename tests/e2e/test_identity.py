"""Identities end to end: STS, users held to their policies, and functions holding their
execution role's credentials, against the real server with boto3 and the AWS CLI."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import AWS_V2, LAMBDA_TRUST, REGION, ROLE, Server, create, error_code, make_zip

ACCOUNT = "000000000000"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def client_with(server: Server, service: str, creds: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def new_user(server: Server, *statements: dict[str, Any], managed: str | None = None) -> dict[str, str]:
    """A user with an inline policy of `statements` (and a managed policy) and a key pair."""
    iam = server.client("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    if managed:
        iam.attach_user_policy(UserName=name, PolicyArn=managed)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"], "UserName": name}


def new_role(server: Server, trust: str, *statements: dict[str, Any]) -> str:
    iam = server.client("iam")
    name = unique("role")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*statements))
    return arn


HELLO: dict[str, str | bytes] = {"app.py": "def handler(event, context):\n    return {'hello': event}\n"}


# -- STS -------------------------------------------------------------------------------------


def test_root_caller_identity(server: Server) -> None:
    me = server.client("sts").get_caller_identity()
    assert me["Account"] == ACCOUNT
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert me["UserId"] == ACCOUNT


def test_user_caller_identity_with_the_aws_cli(server: Server) -> None:
    user = new_user(server)
    env = {
        **server.aws_env(),
        "AWS_ACCESS_KEY_ID": user["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": user["SecretAccessKey"],
    }
    done = subprocess.run(
        [AWS_V2, "--endpoint-url", server.endpoint, "sts", "get-caller-identity", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    me = json.loads(done.stdout)
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{user['UserName']}"
    assert me["UserId"].startswith("AIDA")


def test_assume_role_gives_the_roles_permissions_only(server: Server, fn_name: str) -> None:
    create(server.client("lambda"), fn_name, HELLO)
    user = new_user(server)  # no policy of its own: the role's trust policy names the user
    arn = f"arn:aws:iam::{ACCOUNT}:user/{user['UserName']}"
    trust = policy({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"})
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn_name}"
    role = new_role(server, trust, {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": fn_arn})
    sts = client_with(server, "sts", user)
    assumed = sts.assume_role(RoleArn=role, RoleSessionName="probe", DurationSeconds=900)
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assert 800 < (creds["Expiration"].timestamp() - time.time()) <= 900
    role_name = role.rpartition("/")[2]
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/probe"
    me = client_with(server, "sts", creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/probe"
    assert me["UserId"].startswith("AROA") and me["UserId"].endswith(":probe")
    lam = client_with(server, "lambda", creds)
    assert lam.get_function(FunctionName=fn_name)["Configuration"]["FunctionName"] == fn_name
    with pytest.raises(ClientError) as denied:
        lam.delete_function(FunctionName=fn_name)
    assert error_code(denied) == "AccessDeniedException"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    message = denied.value.response["Error"]["Message"]
    assert "lambda:DeleteFunction" in message and fn_arn in message and "assumed-role" in message
    server.client("lambda").get_function(FunctionName=fn_name)  # still there


def test_assume_role_refused_without_trust(server: Server) -> None:
    user = new_user(server, {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    role = new_role(server, LAMBDA_TRUST)  # trusts Lambda only
    with pytest.raises(ClientError) as denied:
        client_with(server, "sts", user).assume_role(RoleArn=role, RoleSessionName="xx")
    assert error_code(denied) == "AccessDenied"
    with pytest.raises(ClientError) as missing:
        client_with(server, "sts", user).assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/no-such-role", RoleSessionName="xx"
        )
    assert error_code(missing) == "AccessDenied"


def test_account_trust_delegates_to_the_callers_policies(server: Server) -> None:
    trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    )
    role = new_role(server, trust)
    without = new_user(server)
    with pytest.raises(ClientError) as denied:
        client_with(server, "sts", without).assume_role(RoleArn=role, RoleSessionName="xx")
    assert error_code(denied) == "AccessDenied"
    allowed = new_user(server, {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role})
    client_with(server, "sts", allowed).assume_role(RoleArn=role, RoleSessionName="xx")


def test_session_of_a_deleted_role_is_refused(server: Server) -> None:
    user = new_user(server)
    arn = f"arn:aws:iam::{ACCOUNT}:user/{user['UserName']}"
    role = new_role(
        server, policy({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"})
    )
    creds = client_with(server, "sts", user).assume_role(RoleArn=role, RoleSessionName="gone")["Credentials"]
    client_with(server, "sts", creds).get_caller_identity()
    server.client("iam").delete_role(RoleName=role.rpartition("/")[2])
    with pytest.raises(ClientError) as refused:
        client_with(server, "sts", creds).get_caller_identity()
    assert error_code(refused) == "InvalidClientTokenId"
    with pytest.raises(ClientError) as refused_lambda:
        client_with(server, "lambda", creds).list_functions()
    assert error_code(refused_lambda) == "UnrecognizedClientException"


def test_forged_and_mismatched_session_tokens_are_refused(server: Server) -> None:
    creds = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    assert client_with(server, "sts", creds).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    forged = dict(creds, SessionToken=creds["SessionToken"][:-4] + "AAAA")
    with pytest.raises(ClientError) as refused:
        client_with(server, "lambda", forged).list_functions()
    assert error_code(refused) == "UnrecognizedClientException"
    other = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    swapped = dict(creds, SessionToken=other["SessionToken"])
    with pytest.raises(ClientError) as mismatched:
        client_with(server, "lambda", swapped).list_functions()
    assert error_code(mismatched) == "UnrecognizedClientException"
    no_token = {k: v for k, v in creds.items() if k != "SessionToken"}
    with pytest.raises(ClientError) as tokenless:
        client_with(server, "lambda", no_token).list_functions()
    assert error_code(tokenless) == "UnrecognizedClientException"


# -- users held to their policies ---------------------------------------------------------------


def test_read_only_user_lists_but_cannot_delete(server: Server, fn_name: str) -> None:
    create(server.client("lambda"), fn_name, HELLO)
    user = new_user(server, managed="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess")
    lam = client_with(server, "lambda", user)
    # Every page: ListFunctions answers at most 50 a page, and the shared server holds more.
    pages = lam.get_paginator("list_functions").paginate()
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert fn_name in names
    with pytest.raises(ClientError) as denied:
        lam.delete_function(FunctionName=fn_name)
    assert error_code(denied) == "AccessDeniedException"
    assert f"arn:aws:iam::{ACCOUNT}:user/{user['UserName']}" in denied.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as invoke_denied:
        lam.invoke(FunctionName=fn_name, Payload=b"{}")  # the lean Invoke path is checked too
    assert error_code(invoke_denied) == "AccessDeniedException"
    assert "lambda:InvokeFunction" in invoke_denied.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as iam_denied:
        client_with(server, "iam", user).create_user(UserName=unique("intruder"))
    assert error_code(iam_denied) == "AccessDenied"
    server.client("lambda").get_function(FunctionName=fn_name)


def test_explicit_deny_beats_allow(server: Server, fn_name: str) -> None:
    create(server.client("lambda"), fn_name, HELLO)
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn_name}"
    user = new_user(
        server,
        {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["lambda:InvokeFunction", "lambda:Delete*"], "Resource": fn_arn},
    )
    lam = client_with(server, "lambda", user)
    assert lam.get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"] == fn_arn
    for call in (
        lambda: lam.invoke(FunctionName=fn_name, Payload=b"{}"),
        lambda: lam.delete_function(FunctionName=fn_name),
    ):
        with pytest.raises(ClientError) as denied:
            call()
        assert error_code(denied) == "AccessDeniedException"
        assert "explicit deny" in denied.value.response["Error"]["Message"]


def test_resource_policy_allows_a_user_by_arn(server: Server, fn_name: str) -> None:
    root = server.client("lambda")
    create(root, fn_name, HELLO)
    user = new_user(server)  # no identity policy at all
    lam = client_with(server, "lambda", user)
    with pytest.raises(ClientError):
        lam.invoke(FunctionName=fn_name, Payload=b"{}")
    root.add_permission(
        FunctionName=fn_name,
        StatementId="user",
        Action="lambda:InvokeFunction",
        Principal=f"arn:aws:iam::{ACCOUNT}:user/{user['UserName']}",
    )
    answer = lam.invoke(FunctionName=fn_name, Payload=b'"hi"')
    assert json.loads(answer["Payload"].read()) == {"hello": "hi"}


def test_inactive_and_deleted_keys_stop_working(server: Server) -> None:
    user = new_user(server, {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"})
    lam = client_with(server, "lambda", user)
    lam.list_functions()
    iam = server.client("iam")
    iam.update_access_key(UserName=user["UserName"], AccessKeyId=user["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as inactive:
        lam.list_functions()
    assert error_code(inactive) == "UnrecognizedClientException"
    iam.update_access_key(UserName=user["UserName"], AccessKeyId=user["AccessKeyId"], Status="Active")
    lam.list_functions()
    iam.delete_access_key(UserName=user["UserName"], AccessKeyId=user["AccessKeyId"])
    with pytest.raises(ClientError) as deleted:
        lam.list_functions()
    assert error_code(deleted) == "UnrecognizedClientException"


# -- CreateFunction's role check -------------------------------------------------------------------


def test_create_function_requires_a_role_lambda_may_assume(server: Server, fn_name: str) -> None:
    lam = server.client("lambda")
    missing = f"arn:aws:iam::{ACCOUNT}:role/{unique('absent')}"
    untrusting = new_role(
        server,
        policy(
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
    )
    for role in (missing, untrusting):
        with pytest.raises(ClientError) as refused:
            create(lam, fn_name, HELLO, Role=role)
        assert error_code(refused) == "InvalidParameterValueException"
        assert refused.value.response["Error"]["Message"] == (
            "The role defined for the function cannot be assumed by Lambda."
        )
    create(lam, fn_name, HELLO)
    with pytest.raises(ClientError) as update_refused:
        lam.update_function_configuration(FunctionName=fn_name, Role=missing)
    assert error_code(update_refused) == "InvalidParameterValueException"


# -- credentials inside functions ----------------------------------------------------------------

CALLER = {
    "app.py": """
import os
import boto3

def handler(event, context):
    me = boto3.client("sts").get_caller_identity()
    return {
        "arn": me["Arn"],
        "key": os.environ["AWS_ACCESS_KEY_ID"],
        "secret": os.environ["AWS_SECRET_ACCESS_KEY"],
        "token": os.environ["AWS_SESSION_TOKEN"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
    }
"""
}

CHAIN = {
    "app.py": """
import json
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    lam = boto3.client("lambda")
    out = {}
    for name in event["targets"]:
        try:
            answer = lam.invoke(FunctionName=name, Payload=json.dumps("from-chain"))
            out[name] = json.loads(answer["Payload"].read())
        except ClientError as e:
            out[name] = e.response["Error"]["Code"]
    try:
        env = lam.get_function_configuration(FunctionName=event["peek"]).get("Environment")
        out["peek"] = env
    except ClientError as e:
        out["peek"] = e.response["Error"]["Code"]
    return out
"""
}


def test_function_reads_its_assumed_role_identity(server: Server, fn_name: str) -> None:
    lam = server.client("lambda")
    create(lam, fn_name, CALLER)
    answer = json.loads(lam.invoke(FunctionName=fn_name, Payload=b"{}")["Payload"].read())
    role_name = ROLE.rpartition("/")[2]
    assert answer["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{fn_name}"
    assert answer["key"].startswith("ASIA")
    assert answer["endpoint"].startswith("http://127.0.0.1:")
    # The same credentials work from outside, for what the role allows (nothing here).
    creds = {
        "AccessKeyId": answer["key"],
        "SecretAccessKey": answer["secret"],
        "SessionToken": answer["token"],
    }
    outside = client_with(server, "lambda", creds)
    with pytest.raises(ClientError) as denied:
        outside.list_functions()
    assert error_code(denied) == "AccessDeniedException"


def test_function_chaining_is_held_to_the_role(server: Server) -> None:
    lam = server.client("lambda")
    allowed, other, secretive = unique("allowed"), unique("other"), unique("secretive")
    for name in (allowed, other):
        create(lam, name, HELLO)
    create(lam, secretive, HELLO, Environment={"Variables": {"DB_PASSWORD": "hunter2"}})
    allowed_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{allowed}"
    role = new_role(
        server, LAMBDA_TRUST, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": allowed_arn}
    )
    caller = unique("chain")
    create(lam, caller, CHAIN, Role=role, Timeout=30)
    event = {"targets": [allowed, other], "peek": secretive}
    answer = json.loads(lam.invoke(FunctionName=caller, Payload=json.dumps(event))["Payload"].read())
    assert answer[allowed] == {"hello": "from-chain"}
    assert answer[other] == "AccessDeniedException"
    assert answer["peek"] == "AccessDeniedException"


def test_environment_credentials_are_renewed_and_old_ones_expire(fresh_server: Any, fn_name: str) -> None:
    server = fresh_server(STRATUS_ENV_CREDENTIAL_SECONDS="8")
    lam = server.client("lambda")
    create(lam, fn_name, CALLER)
    first = json.loads(lam.invoke(FunctionName=fn_name, Payload=b"{}")["Payload"].read())
    again = json.loads(lam.invoke(FunctionName=fn_name, Payload=b"{}")["Payload"].read())
    assert again["key"] == first["key"]  # the same warm environment, its session still fresh
    time.sleep(6.5)  # past three quarters of the session: the environment takes no more
    renewed = json.loads(lam.invoke(FunctionName=fn_name, Payload=b"{}")["Payload"].read())
    assert renewed["key"] != first["key"]
    assert renewed["arn"] == first["arn"]  # and the call inside it worked with the new session
    time.sleep(2)  # the first session is now past its expiry
    creds = {"AccessKeyId": first["key"], "SecretAccessKey": first["secret"], "SessionToken": first["token"]}
    with pytest.raises(ClientError) as expired:
        client_with(server, "lambda", creds).list_functions()
    assert error_code(expired) == "ExpiredTokenException"
    with pytest.raises(ClientError) as expired_sts:
        client_with(server, "sts", creds).get_caller_identity()
    assert error_code(expired_sts) == "ExpiredToken"


def test_iam_off_takes_any_role_and_allows_every_caller(fresh_server: Any, fn_name: str) -> None:
    server = fresh_server(STRATUS_IAM="off")
    lam = server.client("lambda")
    create(lam, fn_name, CALLER, Role=f"arn:aws:iam::{ACCOUNT}:role/{unique('nowhere')}")
    answer = json.loads(lam.invoke(FunctionName=fn_name, Payload=b"{}")["Payload"].read())
    assert "assumed-role" in answer["arn"]
    user = new_user(server)  # no policy at all
    assert fn_name in [
        f["FunctionName"] for f in client_with(server, "lambda", user).list_functions()["Functions"]
    ]


def test_passing_a_role_needs_iam_pass_role(server: Server, fn_name: str) -> None:
    may_create = {
        "Effect": "Allow",
        "Action": ["lambda:CreateFunction", "lambda:GetFunction"],
        "Resource": "*",
    }
    without = new_user(server, may_create)
    with pytest.raises(ClientError) as denied:
        create(client_with(server, "lambda", without), fn_name, HELLO)
    assert error_code(denied) == "AccessDeniedException"
    assert "iam:PassRole" in denied.value.response["Error"]["Message"]
    allowed = new_user(server, may_create, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE})
    create(client_with(server, "lambda", allowed), fn_name, HELLO)


# -- AWS_IAM function URLs -------------------------------------------------------------------------


def signed_get(url: str, creds: dict[str, str]) -> int:
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url)
    SigV4Auth(
        Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")),
        "lambda",
        REGION,
    ).add_auth(request)
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=dict(request.headers)), timeout=60
        ) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_aws_iam_function_url_is_held_to_invoke_function_url(server: Server, fn_name: str) -> None:
    lam = server.client("lambda")
    create(
        lam,
        fn_name,
        {"app.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'in'}\n"},
    )
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="AWS_IAM")["FunctionUrl"]
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn_name}"
    stranger = new_user(server, {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn_arn})
    assert signed_get(url, stranger) == 403  # InvokeFunction is not InvokeFunctionUrl
    friend = new_user(
        server,
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": fn_arn,
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
        },
    )
    assert signed_get(url, friend) == 200
    assert signed_get(url, {"AccessKeyId": "AKIANOTAKEY000000000", "SecretAccessKey": "x" * 40}) == 403


# -- services invoking functions -------------------------------------------------------------------


def test_a_schedule_needs_the_functions_policy_to_allow_eventbridge(fresh_server: Any) -> None:
    """A rule invokes a function only when the function's policy allows events.amazonaws.com
    for that rule's ARN: not with no policy, nor with one for another rule."""
    server = fresh_server(STRATUS_SCHEDULE_SPEEDUP="60")  # rate(1 minute) fires every second
    lam, events = server.client("lambda"), server.client("events")
    counter = {"app.py": "import os\ndef handler(event, context):\n    return 'ok'\n"}
    names = {k: unique(k) for k in ("bare", "wrong", "granted")}
    for name in names.values():
        create(lam, name, counter)
    rule_arns = {}
    for key in names:
        rule_arns[key] = events.put_rule(Name=f"r-{key}", ScheduleExpression="rate(1 minute)")["RuleArn"]
    lam.add_permission(
        FunctionName=names["wrong"],
        StatementId="other-rule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arns["bare"],  # some other rule's ARN
    )
    lam.add_permission(
        FunctionName=names["granted"],
        StatementId="this-rule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arns["granted"],
    )
    for key, name in names.items():
        events.put_targets(
            Rule=f"r-{key}",
            Targets=[{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}],
        )
    logs = server.client("logs")

    def invoked(name: str) -> bool:
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
        except ClientError:
            return False
        return bool(streams)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not invoked(names["granted"]):
        time.sleep(0.2)
    assert invoked(names["granted"])
    time.sleep(3)  # several more firings of every rule
    assert not invoked(names["wrong"]) and not invoked(names["bare"])
    assert "does not allow events.amazonaws.com to invoke it for" in server.output()


def test_an_http_api_needs_the_functions_policy_to_allow_api_gateway(server: Server, fn_name: str) -> None:
    """Whoever may create an API must not get a function run through it that its policy does
    not open to API Gateway (a confused deputy): the integration answers 500, as on AWS."""
    import urllib.error
    import urllib.request

    def status(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    lam = server.client("lambda")
    arn = create(lam, fn_name, HELLO)["FunctionArn"]
    builder = new_user(server, {"Effect": "Allow", "Action": "apigateway:*", "Resource": "*"})
    api = client_with(server, "apigatewayv2", builder).create_api(
        Name=unique("deputy"), ProtocolType="HTTP", Target=arn
    )
    assert status(api["ApiEndpoint"] + "/x") == 500
    assert f"HTTP API {api['ApiId']} may not invoke {fn_name}" in server.output()
    lam.add_permission(
        FunctionName=fn_name,
        StatementId="this-api",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['ApiId']}/*",
    )
    assert status(api["ApiEndpoint"] + "/x") == 200


def test_a_layer_deny_holds_in_its_region_and_another_region_has_no_such_layer(server: Server) -> None:
    """A Deny on a layer's ARN refuses the caller in the layer's region; a caller signing for
    another region is judged on that region's ARN (allowed) and finds no layer there, as on AWS
    where each region is its own namespace; the layer survives both."""
    name = unique("layer")
    server.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": make_zip({"x.txt": "x"})}
    )
    user = new_user(
        server,
        {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": "lambda:*",
            "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:*",
        },
    )
    for region in (REGION, "eu-west-1"):
        lam = boto3.client(
            "lambda",
            endpoint_url=server.endpoint,
            region_name=region,
            aws_access_key_id=user["AccessKeyId"],
            aws_secret_access_key=user["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}),
        )
        expected = "AccessDeniedException" if region == REGION else "ResourceNotFoundException"
        with pytest.raises(ClientError) as denied:
            lam.get_layer_version(LayerName=name, VersionNumber=1)
        assert error_code(denied) == expected, region
        if region == REGION:
            with pytest.raises(ClientError) as delete_denied:
                lam.delete_layer_version(LayerName=name, VersionNumber=1)
            assert error_code(delete_denied) == expected
        else:  # deleting a version that does not exist succeeds, as on AWS, and touches nothing
            lam.delete_layer_version(LayerName=name, VersionNumber=1)
    assert server.client("lambda").get_layer_version(LayerName=name, VersionNumber=1)["Version"] == 1
