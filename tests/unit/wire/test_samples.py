"""The sample generator: every input and output shape of every service the protocols serve gets
a value that both the model validator and botocore's own validator accept, the same value on
every run, with every top-level member present."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.model import ShapeResolver
from botocore.validate import ParamValidator

from stratus.wire.models import service_model
from stratus.wire.samples import sample
from stratus.wire.validate import validate

SERVICES = (
    "logs", "events", "cloudwatch", "sqs", "dynamodb", "stepfunctions", "sns", "iam", "sts",
    "lambda", "apigatewayv2", "s3",
)  # fmt: skip


@pytest.mark.parametrize("service", SERVICES)
def test_every_input_and_output_validates_clean(service: str) -> None:
    model = service_model(service)
    for name in model.operation_names:
        operation = model.operation_model(name)
        for shape in (operation.input_shape, operation.output_shape):
            if shape is None:
                continue
            value = sample(shape, seed=name)
            assert validate(shape, value) == [], (name, shape.name)
            report = ParamValidator().validate(value, shape)
            assert not report.has_errors(), (name, report.generate_report())


@pytest.mark.parametrize("service", SERVICES)
def test_every_top_level_member_is_present(service: str) -> None:
    model = service_model(service)
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        if shape is None or shape.metadata.get("union"):
            continue
        members = {
            n
            for n, m in shape.members.items()
            if not m.metadata.get("document") and not m.serialization.get("eventstream")
        }
        assert set(sample(shape, seed=name)) == members, name


def test_deterministic_and_seeded() -> None:
    shape = service_model("logs").operation_model("PutLogEvents").input_shape
    assert sample(shape, seed="a") == sample(shape, seed="a")
    assert sample(shape, seed="a") != sample(shape, seed="b")


def _shapes() -> ShapeResolver:
    return ShapeResolver(
        {
            "Input": {
                "type": "structure",
                "required": ["Code"],
                "members": {
                    "Code": {"shape": "Digits"},
                    "Kind": {"shape": "Kind"},
                    "Count": {"shape": "Count"},
                    "Ratio": {"shape": "Ratio"},
                    "When": {"shape": "When"},
                    "Data": {"shape": "Data"},
                    "Items": {"shape": "Items"},
                    "Pairs": {"shape": "Pairs"},
                    "Node": {"shape": "Node"},
                    "Choice": {"shape": "Choice"},
                },
            },
            "Digits": {"type": "string", "min": 6, "max": 6, "pattern": "[\\d]+"},
            "Kind": {"type": "string", "enum": ["first", "second"]},
            "Count": {"type": "integer", "min": 10, "max": 12},
            "Ratio": {"type": "double", "min": 0, "max": 1},
            "When": {"type": "timestamp"},
            "Data": {"type": "blob", "min": 3, "max": 3},
            "Items": {"type": "list", "member": {"shape": "Kind"}, "min": 3},
            "Pairs": {"type": "map", "key": {"shape": "Kind"}, "value": {"shape": "Count"}},
            "Node": {
                "type": "structure",
                "members": {"Next": {"shape": "Node"}, "Label": {"shape": "Kind"}},
            },
            "Choice": {
                "type": "structure",
                "union": True,
                "members": {"A": {"shape": "Kind"}, "B": {"shape": "Count"}},
            },
        }
    )


def test_each_rule() -> None:
    value = sample(_shapes().get_shape_by_name("Input"), seed="s")
    assert value["Code"] == "000000"  # the pattern, at exactly its fixed length
    assert value["Kind"] == "first"  # an enum's first value
    assert 10 <= value["Count"] <= 12
    assert 0 <= value["Ratio"] <= 1
    assert value["When"].tzinfo is not None and value["When"].microsecond == 0
    assert isinstance(value["When"], dt.datetime)
    assert isinstance(value["Data"], bytes) and len(value["Data"]) == 3
    assert value["Items"] == ["first"] * 3  # min 3 beats "1-2 items"
    assert value["Pairs"] == {"first": value["Pairs"]["first"]}
    assert len(value["Choice"]) == 1  # a union has exactly one member
    depth, node = 0, value["Node"]
    while "Next" in node:  # recursion stops
        depth, node = depth + 1, node["Next"]
    assert 2 <= depth <= 4 and node == {"Label": "first"}  # and the cut structure is not empty
