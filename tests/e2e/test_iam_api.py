"""IAM through boto3 against the real server (root credentials): roles, inline and managed
policies with their versions, AWS's managed policies, users, access keys and groups; IAM's
errors as boto3 raises them; and the directory's state across a restart."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import LAMBDA_TRUST, REGION, Server

ACCOUNT = "000000000000"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def allow(action: str, resource: str = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def iam(server: Server) -> Any:
    return server.client("iam")


def refused(call: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value


def test_role_lifecycle(iam: Any) -> None:
    name = unique("role")
    created = iam.create_role(
        RoleName=name,
        Path="/service/",
        AssumeRolePolicyDocument=LAMBDA_TRUST,
        Description="runs the app",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "a"}],
    )["Role"]
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", created["RoleId"])
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service/{name}"
    role = iam.get_role(RoleName=name)["Role"]
    # botocore decodes the URL-encoded document IAM answers: boto3 gets the dict back.
    assert role["AssumeRolePolicyDocument"] == json.loads(LAMBDA_TRUST)
    assert (role["Description"], role["MaxSessionDuration"], role["Tags"]) == (
        "runs the app",
        7200,
        [{"Key": "team", "Value": "a"}],
    )

    iam.update_role(RoleName=name, MaxSessionDuration=43200)
    described = iam.update_role_description(RoleName=name, Description="new words")["Role"]
    assert (described["Description"], described["MaxSessionDuration"]) == ("new words", 43200)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust

    iam.tag_role(RoleName=name, Tags=[{"Key": "TEAM", "Value": "b"}, {"Key": "env", "Value": "dev"}])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [
        {"Key": "TEAM", "Value": "b"},  # tag keys are case-insensitive: it replaced "team"
        {"Key": "env", "Value": "dev"},
    ]
    iam.untag_role(RoleName=name, TagKeys=["team"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "env", "Value": "dev"}]

    iam.delete_role(RoleName=name)
    err = refused(iam.get_role, RoleName=name)
    assert err.response["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": f"The role with name {name} cannot be found.",
    }
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert isinstance(err, iam.exceptions.NoSuchEntityException)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"AssumeRolePolicyDocument": "{not json"}, "MalformedPolicyDocument"),
        # A trust policy names who may assume the role.
        ({"AssumeRolePolicyDocument": json.dumps(allow("sts:AssumeRole"))}, "MalformedPolicyDocument"),
        ({"AssumeRolePolicyDocument": LAMBDA_TRUST, "MaxSessionDuration": 100}, "ValidationError"),
        ({"AssumeRolePolicyDocument": LAMBDA_TRUST, "MaxSessionDuration": 50000}, "ValidationError"),
        ({"AssumeRolePolicyDocument": LAMBDA_TRUST, "Path": "no-slashes"}, "ValidationError"),
        (
            {
                "AssumeRolePolicyDocument": LAMBDA_TRUST,
                "Tags": [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}],
            },
            "InvalidInput",
        ),
    ],
)
def test_create_role_refuses_bad_input(server: Server, kwargs: dict[str, Any], code: str) -> None:
    # botocore's own checks off, so that what the model refuses reaches the server.
    iam = server.client("iam", parameter_validation=False)
    name = unique("bad")
    err = refused(iam.create_role, RoleName=name, **kwargs)
    assert err.response["Error"]["Code"] == code
    assert refused(iam.get_role, RoleName=name).response["Error"]["Code"] == "NoSuchEntity"


def test_a_role_name_is_taken_whatever_its_case(iam: Any) -> None:
    name = unique("Dup")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)
    err = refused(iam.create_role, RoleName=name.lower(), AssumeRolePolicyDocument=LAMBDA_TRUST)
    assert err.response["Error"]["Code"] == "EntityAlreadyExists"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.delete_role(RoleName=name)


def test_list_roles_pages_by_marker_under_a_path(iam: Any) -> None:
    path = f"/{unique('pages')}/"
    names = sorted(unique("r") for _ in range(5))
    for name in names:
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=LAMBDA_TRUST)
    seen: list[str] = []
    marker: dict[str, str] = {}
    pages = 0
    while True:
        page = iam.list_roles(PathPrefix=path, MaxItems=2, **marker)
        pages += 1
        assert len(page["Roles"]) <= 2
        seen += [r["RoleName"] for r in page["Roles"]]
        if not page["IsTruncated"]:
            break
        marker = {"Marker": page["Marker"]}
    assert (seen, pages) == (names, 3)
    listed = iam.list_roles(PathPrefix=path)["Roles"]
    assert "Tags" not in listed[0] and listed[0]["AssumeRolePolicyDocument"] == json.loads(LAMBDA_TRUST)
    paginated = iam.get_paginator("list_roles").paginate(PathPrefix=path, PaginationConfig={"PageSize": 3})
    assert [r["RoleName"] for p in paginated for r in p["Roles"]] == names
    for name in names:
        iam.delete_role(RoleName=name)
    assert iam.list_roles(PathPrefix=path)["Roles"] == []


def test_inline_role_policies(iam: Any) -> None:
    role = unique("inline")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    document = allow("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:x")
    iam.put_role_policy(RoleName=role, PolicyName="invoke", PolicyDocument=json.dumps(document))
    got = iam.get_role_policy(RoleName=role, PolicyName="invoke")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == (role, "invoke", document)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["invoke"]

    err = refused(iam.delete_role, RoleName=role)
    assert err.response["Error"]["Code"] == "DeleteConflict"
    assert err.response["Error"]["Message"] == "Cannot delete entity, must delete policies first."
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    with_principal = {**document, "Statement": [{**document["Statement"][0], "Principal": "*"}]}
    err = refused(
        iam.put_role_policy, RoleName=role, PolicyName="p", PolicyDocument=json.dumps(with_principal)
    )
    assert err.response["Error"]["Code"] == "MalformedPolicyDocument"
    err = refused(iam.get_role_policy, RoleName=role, PolicyName="nope")
    assert err.response["Error"]["Message"] == "The role policy with name nope cannot be found."
    err = refused(
        iam.put_role_policy, RoleName=unique("ghost"), PolicyName="p", PolicyDocument=json.dumps(document)
    )
    assert err.response["Error"]["Code"] == "NoSuchEntity"

    iam.delete_role_policy(RoleName=role, PolicyName="invoke")
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    iam.delete_role(RoleName=role)


def test_managed_policy_versions_and_attachments(iam: Any) -> None:
    name, role = unique("pol"), unique("holder")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    policy = iam.create_policy(PolicyName=name, Path="/team/", PolicyDocument=json.dumps(allow("logs:Get*")))[
        "Policy"
    ]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/team/{name}"
    assert (policy["DefaultVersionId"], policy["AttachmentCount"], policy["IsAttachable"]) == ("v1", 0, True)
    assert re.fullmatch(r"ANPA[A-Z0-9]{17}", policy["PolicyId"])
    assert (
        refused(iam.create_policy, PolicyName=name, PolicyDocument=json.dumps(allow("s3:*"))).response[
            "Error"
        ]["Code"]
        == "EntityAlreadyExists"
    )

    v2 = iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(allow("logs:*")), SetAsDefault=True
    )
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"]
    for n in (3, 4, 5):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(allow(f"logs:Describe{n}")))
    err = refused(iam.create_policy_version, PolicyArn=arn, PolicyDocument=json.dumps(allow("logs:X")))
    assert err.response["Error"]["Code"] == "LimitExceeded"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in versions] == [
        ("v5", False),
        ("v4", False),
        ("v3", False),
        ("v2", True),
        ("v1", False),
    ]
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]["Document"] == allow(
        "logs:Get*"
    )
    err = refused(iam.delete_policy_version, PolicyArn=arn, VersionId="v2")
    assert err.response["Error"]["Message"] == "Cannot delete the default version of a policy."
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v4")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v4"
    err = refused(iam.get_policy_version, PolicyArn=arn, VersionId="v9")
    assert err.response["Error"]["Code"] == "NoSuchEntity"

    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": name, "PolicyArn": arn}]
    assert iam.list_entities_for_policy(PolicyArn=arn)["PolicyRoles"][0]["RoleName"] == role
    assert arn in [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    err = refused(iam.delete_policy, PolicyArn=arn)
    assert (err.response["Error"]["Code"], err.response["Error"]["Message"]) == (
        "DeleteConflict",
        "Cannot delete a policy attached to entities.",
    )
    err = refused(iam.delete_role, RoleName=role)
    assert err.response["Error"]["Message"] == "Cannot delete entity, must detach all policies first."

    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    err = refused(iam.delete_policy, PolicyArn=arn)
    assert err.response["Error"]["Code"] == "DeleteConflict"  # versions other than the default remain
    for version in ("v1", "v2", "v3", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    iam.delete_policy(PolicyArn=arn)
    err = refused(iam.get_policy, PolicyArn=arn)
    assert (err.response["Error"]["Code"], err.response["Error"]["Message"]) == (
        "NoSuchEntity",
        f"Policy {arn} was not found.",
    )
    iam.delete_role(RoleName=role)


def test_aws_managed_policies_are_readable_and_attachable(iam: Any) -> None:
    policy = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert (policy["PolicyName"], policy["Path"]) == ("AWSLambdaBasicExecutionRole", "/service-role/")
    version = iam.get_policy_version(PolicyArn=BASIC, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert version["IsDefaultVersion"] and version["Document"]["Statement"]
    aws = [p["Arn"] for p in iam.get_paginator("list_policies").paginate(Scope="AWS") for p in p["Policies"]]
    local = [
        p["Arn"] for p in iam.get_paginator("list_policies").paginate(Scope="Local") for p in p["Policies"]
    ]
    assert BASIC in aws and BASIC not in local
    assert all(a.startswith("arn:aws:iam::aws:policy/") for a in aws)

    role = unique("basic")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    iam.attach_role_policy(RoleName=role, PolicyArn=BASIC)
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == [
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}
    ]
    assert iam.get_policy(PolicyArn=BASIC)["Policy"]["AttachmentCount"] >= 1
    err = refused(iam.delete_policy, PolicyArn=BASIC)
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403  # not the account's to delete
    err = refused(iam.create_policy_version, PolicyArn=BASIC, PolicyDocument=json.dumps(allow("s3:*")))
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    iam.detach_role_policy(RoleName=role, PolicyArn=BASIC)
    iam.delete_role(RoleName=role)


def test_unknown_policy_arns(iam: Any) -> None:
    role = unique("unknown")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    for arn in (f"arn:aws:iam::{ACCOUNT}:policy/{unique('missing')}", "arn:aws:iam::aws:policy/NoSuchThing"):
        err = refused(iam.attach_role_policy, RoleName=role, PolicyArn=arn)
        assert err.response["Error"] == {
            "Type": "Sender",
            "Code": "NoSuchEntity",
            "Message": f"Policy {arn} does not exist or is not attachable.",
        }
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    iam.delete_role(RoleName=role)


def test_users_and_access_keys(iam: Any, server: Server) -> None:
    name = unique("user")
    user = iam.create_user(UserName=name, Path="/people/", Tags=[{"Key": "k", "Value": "v"}])["User"]
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", user["UserId"])
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/people/{name}"
    assert iam.get_user(UserName=name)["User"]["Tags"] == [{"Key": "k", "Value": "v"}]
    assert name in [u["UserName"] for u in iam.list_users(PathPrefix="/people/")["Users"]]

    keys = [iam.create_access_key(UserName=name)["AccessKey"] for _ in range(2)]
    for key in keys:
        assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key["AccessKeyId"])
        assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    err = refused(iam.create_access_key, UserName=name)
    assert err.response["Error"]["Code"] == "LimitExceeded"
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted(k["AccessKeyId"] for k in keys)
    assert all("SecretAccessKey" not in k for k in listed)

    # The key signs requests as the user (sts:GetCallerIdentity needs no permission).
    sts = _client(server, "sts", keys[0])
    assert sts.get_caller_identity()["Arn"] == user["Arn"]
    iam.update_access_key(UserName=name, AccessKeyId=keys[0]["AccessKeyId"], Status="Inactive")
    statuses = {
        k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    }
    assert statuses[keys[0]["AccessKeyId"]] == "Inactive"
    err = refused(sts.get_caller_identity)
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403  # an inactive key signs nothing

    iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=json.dumps(allow("lambda:List*")))
    assert iam.get_user_policy(UserName=name, PolicyName="own")["PolicyDocument"] == allow("lambda:List*")
    iam.attach_user_policy(UserName=name, PolicyArn=BASIC)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]] == [
        BASIC
    ]

    err = refused(iam.delete_user, UserName=name)
    assert err.response["Error"]["Message"] == "Cannot delete entity, must delete access keys first."
    for key in keys:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    err = refused(iam.delete_access_key, UserName=name, AccessKeyId=keys[0]["AccessKeyId"])
    assert err.response["Error"]["Code"] == "NoSuchEntity"
    err = refused(iam.delete_user, UserName=name)
    assert err.response["Error"]["Message"] == "Cannot delete entity, must delete policies first."
    iam.delete_user_policy(UserName=name, PolicyName="own")
    err = refused(iam.delete_user, UserName=name)
    assert err.response["Error"]["Message"] == "Cannot delete entity, must detach all policies first."
    iam.detach_user_policy(UserName=name, PolicyArn=BASIC)
    iam.delete_user(UserName=name)
    assert refused(iam.get_user, UserName=name).response["Error"]["Code"] == "NoSuchEntity"


def _client(server: Server, service: str, key: dict[str, Any]) -> Any:
    """A client that signs with an IAM user's access key."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )


def test_get_user_without_a_name_is_the_caller(iam: Any) -> None:
    root = iam.get_user()["User"]
    assert (root["Arn"], root["UserId"]) == (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)


def test_groups(iam: Any) -> None:
    group, user = unique("group"), unique("member")
    assert iam.create_group(GroupName=group)["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/{group}"
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=group, UserName=user)
    got = iam.get_group(GroupName=group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=json.dumps(allow("lambda:Get*")))
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == ["g"]
    err = refused(iam.delete_group, GroupName=group)
    assert err.response["Error"]["Code"] == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group, UserName=user)
    iam.delete_group_policy(GroupName=group, PolicyName="g")
    iam.delete_group(GroupName=group)
    iam.delete_user(UserName=user)


def test_the_directory_survives_a_restart(fresh_server: Any) -> None:
    srv: Server = fresh_server()
    iam = srv.client("iam")
    role = iam.create_role(RoleName="durable", Path="/keep/", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]
    iam.put_role_policy(RoleName="durable", PolicyName="p", PolicyDocument=json.dumps(allow("s3:GetObject")))
    policy = iam.create_policy(PolicyName="kept", PolicyDocument=json.dumps(allow("sqs:*")))["Policy"]
    iam.create_policy_version(
        PolicyArn=policy["Arn"], PolicyDocument=json.dumps(allow("sqs:Send*")), SetAsDefault=True
    )
    iam.attach_role_policy(RoleName="durable", PolicyArn=policy["Arn"])
    iam.attach_role_policy(RoleName="durable", PolicyArn=BASIC)
    iam.create_user(UserName="keeper")
    key = iam.create_access_key(UserName="keeper")["AccessKey"]

    srv.stop()
    srv.start()
    iam = srv.client("iam")
    again = iam.get_role(RoleName="durable")["Role"]
    assert (again["RoleId"], again["Arn"], again["AssumeRolePolicyDocument"]) == (
        role["RoleId"],
        role["Arn"],
        json.loads(LAMBDA_TRUST),
    )
    assert iam.get_role_policy(RoleName="durable", PolicyName="p")["PolicyDocument"] == allow("s3:GetObject")
    assert {
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="durable")["AttachedPolicies"]
    } == {
        policy["Arn"],
        BASIC,
    }
    kept = iam.get_policy(PolicyArn=policy["Arn"])["Policy"]
    assert (kept["DefaultVersionId"], kept["AttachmentCount"]) == ("v2", 1)
    listed = iam.list_access_keys(UserName="keeper")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert _client(srv, "sts", key).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/keeper"


def test_a_user_is_held_to_its_policies_on_iam_itself(iam: Any, server: Server) -> None:
    """IAM's operations are authorized on the entity they name (iam_api's declarations): a
    user may read roles under one name prefix, manage its own keys (`${aws:username}`), and
    nothing else."""
    prefix = unique("app")
    mine, other = f"{prefix}-mine", unique("other")
    for role in (mine, other):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=LAMBDA_TRUST)
    name = unique("limited")
    iam.create_user(UserName=name)
    statements = [
        {"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": f"arn:aws:iam::{ACCOUNT}:role/{prefix}-*"},
        {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ["iam:GetUser", "iam:ListAccessKeys", "iam:CreateAccessKey"],
            "Resource": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}",
        },
    ]
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName=name, PolicyName="limited", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    limited = _client(server, "iam", key)

    assert limited.get_role(RoleName=mine)["Role"]["RoleName"] == mine
    assert mine in [r["RoleName"] for r in limited.list_roles()["Roles"]]
    err = refused(limited.get_role, RoleName=other)
    assert err.response["Error"]["Code"] == "AccessDenied"
    assert f"iam:GetRole on resource: arn:aws:iam::{ACCOUNT}:role/{other}" in err.response["Error"]["Message"]
    err = refused(limited.delete_role, RoleName=mine)
    assert err.response["Error"]["Code"] == "AccessDenied"
    err = refused(limited.create_role, RoleName=unique("nope"), AssumeRolePolicyDocument=LAMBDA_TRUST)
    assert err.response["Error"]["Code"] == "AccessDenied"

    # Its own user, named or not (GetUser and the key operations default to the caller).
    assert limited.get_user()["User"]["UserName"] == name
    assert [k["AccessKeyId"] for k in limited.list_access_keys()["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    second = limited.create_access_key()["AccessKey"]
    assert second["UserName"] == name
    err = refused(limited.get_user, UserName="test-user-of-someone-else")
    assert err.response["Error"]["Code"] == "AccessDenied"
    err = refused(limited.list_access_keys, UserName=other)
    assert err.response["Error"]["Code"] == "AccessDenied"

    for each in (key, second):
        iam.delete_access_key(UserName=name, AccessKeyId=each["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="limited")
    iam.delete_user(UserName=name)
    for role in (mine, other):
        iam.delete_role(RoleName=role)
