"""The IAM service's declared authorization (iam_api): each operation is `iam:<Operation>` on
the entity it names, as IAM's resource types are; the operations that default to the caller
name the caller's own user."""

from __future__ import annotations

import pytest

from stratus.identity.evaluate import Principal
from stratus.identity.guard import CALLER
from stratus.identity.iam_api import SERVICE
from stratus.identity.keyring import Caller
from stratus.wire.models import service_model

ACCOUNT, REGION = "123456789012", "us-east-1"


def test_every_operation_is_a_served_iam_action() -> None:
    model = service_model("iam")
    for operation in SERVICE.handlers:
        assert operation in model.operation_names
        action, _ = SERVICE.action(operation, {}, REGION, ACCOUNT)
        assert action == f"iam:{operation}"


@pytest.mark.parametrize(
    ("operation", "params", "resource"),
    [
        ("GetRole", {"RoleName": "r"}, f"arn:aws:iam::{ACCOUNT}:role/r"),
        ("CreateRole", {"RoleName": "r", "Path": "/app/"}, f"arn:aws:iam::{ACCOUNT}:role/app/r"),
        ("PutRolePolicy", {"RoleName": "r", "PolicyName": "p"}, f"arn:aws:iam::{ACCOUNT}:role/r"),
        ("AttachRolePolicy", {"RoleName": "r", "PolicyArn": "arn:x"}, f"arn:aws:iam::{ACCOUNT}:role/r"),
        ("AddUserToGroup", {"GroupName": "g", "UserName": "u"}, f"arn:aws:iam::{ACCOUNT}:group/g"),
        ("DeleteUser", {"UserName": "u"}, f"arn:aws:iam::{ACCOUNT}:user/u"),
        ("CreatePolicy", {"PolicyName": "p", "Path": "/t/"}, f"arn:aws:iam::{ACCOUNT}:policy/t/p"),
        ("GetPolicyVersion", {"PolicyArn": "arn:aws:iam::aws:policy/X"}, "arn:aws:iam::aws:policy/X"),
        ("ListRoles", {}, "*"),
        ("ListPolicies", {"Scope": "AWS"}, "*"),
        ("GetUser", {}, "*"),  # root (no IAM user) is never checked
    ],
)
def test_resources(operation: str, params: dict[str, str], resource: str) -> None:
    assert SERVICE.action(operation, params, REGION, ACCOUNT) == (f"iam:{operation}", resource)


def test_a_user_acting_on_itself_names_its_own_arn_with_its_path() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:user/team/alice"
    caller = Caller(Principal(arn, "user", ACCOUNT), "AKIAEXAMPLE", "AIDAEXAMPLE", user_name="alice")
    token = CALLER.set(caller)
    try:
        assert SERVICE.action("GetUser", {}, REGION, ACCOUNT)[1] == arn
        assert SERVICE.action("ListAccessKeys", {"UserName": "alice"}, REGION, ACCOUNT)[1] == arn
        assert SERVICE.action("ListAccessKeys", {"UserName": "bob"}, REGION, ACCOUNT)[1] == (
            f"arn:aws:iam::{ACCOUNT}:user/bob"
        )
    finally:
        CALLER.reset(token)
