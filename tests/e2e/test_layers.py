"""Layers: the API (publish, get, list, delete, permissions) and their contents at /opt, found
by Python, Node.js and custom runtimes as on Lambda."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import create, make_zip


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def publish(
    lam: Any, name: str, files: dict[str, str | bytes], mode: int = 0o644, **kwargs: Any
) -> dict[str, Any]:
    zipped = make_zip(files, mode=mode)
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": zipped}, **kwargs)  # type: ignore[no-any-return]


def invoke(lam: Any, name: str) -> Any:
    out = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def test_layer_api(lam: Any, fn_name: str) -> None:
    layer = f"lib-{fn_name}"
    first = publish(
        lam,
        layer,
        {"python/shared.py": "X = 1\n"},
        Description="one",
        CompatibleRuntimes=["python3.11"],
        LicenseInfo="MIT",
    )
    assert first["Version"] == 1
    assert first["LayerVersionArn"] == first["LayerArn"] + ":1"
    assert first["Content"]["CodeSize"] > 0 and first["Content"]["CodeSha256"]
    assert first["CompatibleRuntimes"] == ["python3.11"] and first["LicenseInfo"] == "MIT"
    second = publish(lam, layer, {"python/shared.py": "X = 2\n"}, CompatibleRuntimes=["nodejs20.x"])
    assert second["Version"] == 2

    got = lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert got["Description"] == "one" and got["LayerVersionArn"] == first["LayerVersionArn"]
    by_arn = lam.get_layer_version_by_arn(Arn=second["LayerVersionArn"])
    assert by_arn["Version"] == 2
    versions = lam.list_layer_versions(LayerName=layer)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    listed = {entry["LayerName"]: entry for entry in lam.list_layers()["Layers"]}
    assert listed[layer]["LatestMatchingVersion"]["Version"] == 2
    python_only = {e["LayerName"]: e for e in lam.list_layers(CompatibleRuntime="python3.11")["Layers"]}
    assert python_only[layer]["LatestMatchingVersion"]["Version"] == 1

    added = lam.add_layer_version_permission(
        LayerName=layer,
        VersionNumber=1,
        StatementId="everyone",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    assert json.loads(added["Statement"])["Sid"] == "everyone"
    policy = json.loads(lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["everyone"]
    lam.remove_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="everyone")
    with pytest.raises(ClientError) as err:
        lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    assert code(err) == "ResourceNotFoundException"

    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    lam.delete_layer_version(LayerName=layer, VersionNumber=1)  # idempotent
    with pytest.raises(ClientError) as err:
        lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert code(err) == "ResourceNotFoundException"
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]] == [2]
    third = publish(lam, layer, {"python/shared.py": "X = 3\n"})
    assert third["Version"] == 3  # numbers are never reused


def test_python_finds_layers_in_order(lam: Any, fn_name: str) -> None:
    base = publish(
        lam,
        f"base-{fn_name}",
        {
            "python/shared.py": "WHO = 'base'\n",
            "python/only_base.py": "VALUE = 'from base'\n",
            "python/lib/python3.11/site-packages/sitepkg.py": "VALUE = 'site-packages'\n",
            "data/config.txt": "base config",
        },
    )
    top = publish(
        lam, f"top-{fn_name}", {"python/shared.py": "WHO = 'top'\n", "data/config.txt": "top config"}
    )
    create(
        lam,
        fn_name,
        {
            "app.py": """
        import only_base, shared, sitepkg
        def handler(event, context):
            return {"who": shared.WHO, "base": only_base.VALUE, "site": sitepkg.VALUE,
                    "config": open("/opt/data/config.txt").read()}
        """
        },
        Layers=[base["LayerVersionArn"], top["LayerVersionArn"]],
    )
    config = lam.get_function_configuration(FunctionName=fn_name)
    assert [layer["Arn"] for layer in config["Layers"]] == [base["LayerVersionArn"], top["LayerVersionArn"]]
    assert all(layer["CodeSize"] > 0 for layer in config["Layers"])
    assert invoke(lam, fn_name) == {
        "who": "top",
        "base": "from base",
        "site": "site-packages",
        "config": "top config",
    }
    # The function keeps its layers after the versions are deleted, as on Lambda.
    lam.delete_layer_version(LayerName=f"top-{fn_name}", VersionNumber=1)
    lam.update_function_configuration(FunctionName=fn_name, Environment={"Variables": {"NEW": "1"}})
    assert invoke(lam, fn_name)["who"] == "top"
    # Removing the layers takes them away from new environments.
    lam.update_function_configuration(FunctionName=fn_name, Layers=[base["LayerVersionArn"]])
    assert invoke(lam, fn_name)["who"] == "base"


def test_node_and_custom_runtimes_use_opt(lam: Any, fn_name: str) -> None:
    node_layer = publish(
        lam,
        f"node-{fn_name}",
        {
            "nodejs/node_modules/greeting/index.js": "module.exports = (n) => `hello ${n}`;\n",
        },
    )
    create(
        lam,
        fn_name,
        {
            "index.js": """
        const greeting = require("greeting");
        exports.handler = async () => ({ text: greeting("layer") });
        """
        },
        Runtime="nodejs20.x",
        Handler="index.handler",
        Layers=[node_layer["LayerVersionArn"]],
    )
    assert invoke(lam, fn_name) == {"text": "hello layer"}

    bootstrap = (
        "#!/bin/sh\n"
        'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"\n'
        "while true; do\n"
        '  HEADERS=$(curl -sS -D - -o /dev/null "$API/invocation/next")\n'
        '  ID=$(echo "$HEADERS" | grep -i request-id | tr -d "\\r" | cut -d" " -f2)\n'
        '  curl -sS -X POST "$API/invocation/$ID/response" -d \'{"from": "opt bootstrap"}\' >/dev/null\n'
        "done\n"
    )
    runtime_layer = publish(lam, f"rt-{fn_name}", {"bootstrap": bootstrap}, mode=0o755)
    custom = f"{fn_name}-custom"
    create(
        lam,
        custom,
        {"handler.txt": "no bootstrap here"},
        Runtime="provided.al2023",
        Handler="x.y",
        Layers=[runtime_layer["LayerVersionArn"]],
    )
    assert invoke(lam, custom) == {"from": "opt bootstrap"}


def test_bad_layer_references(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": "def handler(e, c):\n    return 1\n"})
    layer = publish(lam, f"bad-{fn_name}", {"python/a.py": "A = 1\n"})
    cases = [
        (["arn:aws:lambda:us-east-1:000000000000:layer:nope:1"], "does not exist"),
        (["not-an-arn"], "Invalid layer version ARN"),
        ([layer["LayerVersionArn"]] * 6, "more than 5 layers"),
    ]
    for layers, message in cases:
        with pytest.raises(ClientError) as err:
            lam.update_function_configuration(FunctionName=fn_name, Layers=layers)
        assert code(err) == "InvalidParameterValueException", layers
        assert message in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        lam.publish_layer_version(LayerName="bad name!", Content={"ZipFile": make_zip({"a": "b"})})
    assert code(err) in ("InvalidParameterValueException", "ValidationException")
    with pytest.raises(ClientError) as err:
        lam.publish_layer_version(LayerName=f"bad-{fn_name}", Content={"ZipFile": b"not a zip"})
    assert code(err) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as err:
        lam.get_layer_version(LayerName="never-published", VersionNumber=1)
    assert code(err) == "ResourceNotFoundException"
