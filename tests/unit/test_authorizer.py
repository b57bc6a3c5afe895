"""The authorizer's caches (identity/authorizer.py) never outlive what they were decided on: a
policy change applies to the next request, and an allow that a condition decided is decided
again for every request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stratus.errors import AccessDenied
from stratus.identity.authorizer import Authorizer
from stratus.identity.directory import Directory
from stratus.identity.evaluate import Principal
from stratus.identity.keyring import Caller
from stratus.store.sqlite import Store

ACCOUNT = "000000000000"
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Directory, Authorizer, Caller, Clock]:
    directory = Directory(Store(tmp_path / "s.db"), ACCOUNT)
    user = directory.create_user("u", "/")
    clock = Clock()
    caller = Caller(Principal(user.arn, "user", ACCOUNT), "AKIAX", user.user_id, user_name="u")
    return directory, Authorizer(directory, ACCOUNT, clock=clock), caller, clock


def allowed(authorizer: Authorizer, caller: Caller, action: str = "lambda:InvokeFunction") -> bool:
    try:
        authorizer.check(caller, action, FN, region="us-east-1")
    except AccessDenied:
        return False
    return True


def test_a_policy_change_applies_to_the_next_request(setup: Any) -> None:
    directory, authorizer, caller, _ = setup
    assert not allowed(authorizer, caller)
    directory.put_inline("user", "u", "p", doc({"Effect": "Allow", "Action": "lambda:*", "Resource": FN}))
    assert allowed(authorizer, caller) and allowed(authorizer, caller)  # the second from the cache
    directory.put_inline(
        "user", "u", "deny", doc({"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"})
    )
    assert not allowed(authorizer, caller)
    assert allowed(authorizer, caller, "lambda:GetFunction")
    directory.delete_inline("user", "u", "p")
    assert not allowed(authorizer, caller, "lambda:GetFunction")


def test_an_allow_decided_by_a_condition_is_decided_each_time(setup: Any) -> None:
    directory, authorizer, caller, clock = setup
    until = "2023-11-14T22:15:00Z"  # 1,700,000,100 seconds
    directory.put_inline(
        "user",
        "u",
        "p",
        doc(
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": FN,
                "Condition": {"DateLessThan": {"aws:CurrentTime": until}},
            }
        ),
    )
    assert allowed(authorizer, caller) and allowed(authorizer, caller)
    clock.now += 200  # past the condition's date: no cached allow may answer for it
    assert not allowed(authorizer, caller)


def test_a_condition_on_another_service_leaves_this_one_cacheable(setup: Any) -> None:
    directory, authorizer, caller, _ = setup
    directory.put_inline(
        "user",
        "u",
        "p",
        doc(
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": FN},
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}},
            },
        ),
    )
    assert allowed(authorizer, caller)
    assert authorizer._allowed  # the Lambda allow depends on no condition: kept
    assert not allowed(authorizer, caller, "sqs:SendMessage")
