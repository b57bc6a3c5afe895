"""Target: the invoked ARN is the one Lambda's API builds for the same name and qualifier."""

from __future__ import annotations

import dataclasses

import pytest

from stratus.control.arns import function_arn
from stratus.invoke.target import Target


@pytest.mark.parametrize("qualifier", [None, "$LATEST", "1", "live"])
def test_arn_matches_the_api(qualifier: str | None) -> None:
    target = Target("f", qualifier, "eu-west-1", "123456789012")
    assert target.arn == function_arn("eu-west-1", "123456789012", "f", qualifier)


def test_unqualified_arn_has_no_qualifier_part() -> None:
    assert Target("f", None, "us-east-1", "000000000000").arn == (
        "arn:aws:lambda:us-east-1:000000000000:function:f"
    )


def test_frozen() -> None:
    target = Target("f", "1", "us-east-1", "000000000000")
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.name = "g"  # type: ignore[misc]
