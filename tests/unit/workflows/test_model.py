"""State machines' and executions' names and ARNs (workflows/model.py): Step Functions' name
rule (1-80 characters, none of its refused characters), the ARN forms of Standard and Express
executions, and their parsing (InvalidArn for anything else)."""

from __future__ import annotations

import pytest

from stratus.workflows.faults import InvalidArn, InvalidName
from stratus.workflows.model import (
    Execution,
    StateMachine,
    check_name,
    execution_arn,
    machine_arn,
    machine_of_execution,
    parse_execution_arn,
    parse_machine_arn,
)

GOOD_NAMES = ["a", "x" * 80, "order-123_ABC.v2", "café", "a+b=c", "(paren)", "'quote'", "at@sign", "!"]
BAD_NAMES = [
    "",
    "x" * 81,
    "with space",
    "tab\there",
    "new\nline",
    "a<b",
    "a>b",
    "{x}",
    "[x]",
    "what?",
    "star*",
    'say"',
    "hash#",
    "100%",
    "back\\slash",
    "caret^",
    "pipe|",
    "tilde~",
    "tick`",
    "dollar$",
    "and&",
    "comma,",
    "semi;",
    "colon:",
    "slash/",
    "nul\x00",
    "bell\x07",
    "del\x7f",
    "c1\x85",
]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_names_step_functions_accepts(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_step_functions_refuses(name: str) -> None:
    with pytest.raises(InvalidName) as refused:
        check_name(name)
    assert refused.value.code == "InvalidName"
    assert refused.value.message == f"Invalid Name: '{name}'"
    assert refused.value.status == 400


MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:orders"


def test_machine_arn_and_its_parse() -> None:
    assert machine_arn("eu-west-1", "123456789012", "orders") == MACHINE
    assert parse_machine_arn(MACHINE) == ("eu-west-1", "123456789012", "orders")
    assert parse_machine_arn("arn:aws-cn:states:cn-north-1:123456789012:stateMachine:m")[0] == "cn-north-1"


def test_standard_execution_arn() -> None:
    arn = execution_arn(MACHINE, "run-1")
    assert arn == "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1"
    assert parse_execution_arn(arn) == ("eu-west-1", "123456789012", "orders", "run-1")
    assert machine_of_execution(arn) == MACHINE


def test_express_execution_arn_carries_a_unique_id() -> None:
    arn = execution_arn(MACHINE, "run-1", express_id="6c4b-11")
    assert arn == "arn:aws:states:eu-west-1:123456789012:express:orders:run-1:6c4b-11"
    assert parse_execution_arn(arn) == ("eu-west-1", "123456789012", "orders", "run-1")
    assert machine_of_execution(arn) == MACHINE


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "orders",
        "arn:aws:states:eu-west-1:123456789012:stateMachine:",
        "arn:aws:states:eu-west-1:1234:stateMachine:orders",  # the account is 12 digits
        "arn:aws:lambda:eu-west-1:123456789012:function:orders",
        "arn:aws:states:eu-west-1:123456789012:execution:orders:run-1",  # an execution, not a machine
        "arn:aws:states:eu-west-1:123456789012:stateMachine:orders:extra",
    ],
)
def test_what_is_not_a_machine_arn(arn: str) -> None:
    with pytest.raises(InvalidArn) as refused:
        parse_machine_arn(arn)
    assert refused.value.message == f"Invalid Arn: 'Resource type not valid in this context: {arn}'"


@pytest.mark.parametrize(
    "arn",
    [
        MACHINE,
        "arn:aws:states:eu-west-1:123456789012:execution:orders",
        "arn:aws:states:eu-west-1:123456789012:activity:orders:run-1",
        "arn:aws:states:eu-west-1:12345678901x:execution:orders:run-1",
    ],
)
def test_what_is_not_an_execution_arn(arn: str) -> None:
    with pytest.raises(InvalidArn):
        parse_execution_arn(arn)


def test_records_round_trip_through_their_rows() -> None:
    machine = StateMachine(
        arn=MACHINE,
        name="orders",
        region="eu-west-1",
        type="STANDARD",
        definition="{}",
        role_arn="arn:aws:iam::123456789012:role/r",
        created_ms=5,
        tags={"team": "a"},
    )
    assert StateMachine.from_row(machine.to_row()) == machine
    execution = Execution(
        arn=execution_arn(MACHINE, "e"),
        machine_arn=MACHINE,
        name="e",
        region="eu-west-1",
        type="STANDARD",
        status="RUNNING",
        input="{}",
        role_arn="arn:aws:iam::123456789012:role/r",
        definition="{}",
        start_ms=7,
        deadline_ms=1007,
    )
    assert Execution.from_row(execution.to_row()) == execution
