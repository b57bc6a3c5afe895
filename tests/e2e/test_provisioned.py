"""Provisioned concurrency: initialized environments kept ready on versions and aliases."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import create

SLOW_INIT = """
import os, time
time.sleep(0.3)  # a slow init phase
def handler(event, context):
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def wait_ready(lam: Any, name: str, qualifier: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        config: dict[str, Any] = lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        if config["Status"] == "READY" or time.monotonic() > deadline:
            return config
        time.sleep(0.2)


def test_alias_gets_initialized_environments(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": SLOW_INIT})
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)
    put = lam.put_provisioned_concurrency_config(
        FunctionName=fn_name, Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")

    ready = wait_ready(lam, fn_name, "live")
    assert ready["Status"] == "READY", ready
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2

    resp = lam.invoke(FunctionName=fn_name, Qualifier="live", LogType="Tail")
    assert json.loads(resp["Payload"].read()) == {"init": "provisioned-concurrency"}
    log = base64.b64decode(resp["LogResult"]).decode()
    assert "Init Duration" not in log  # init ran before the invoke, not during it

    listed = lam.list_provisioned_concurrency_configs(FunctionName=fn_name)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["live"]

    lam.delete_provisioned_concurrency_config(FunctionName=fn_name, Qualifier="live")
    with pytest.raises(ClientError) as err:
        lam.get_provisioned_concurrency_config(FunctionName=fn_name, Qualifier="live")
    assert err.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    # An on-demand environment now serves, or a provisioned one still warm: both answer.
    assert lam.invoke(FunctionName=fn_name, Qualifier="live")["StatusCode"] == 200


def test_latest_is_refused(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": SLOW_INIT})
    with pytest.raises(ClientError) as err:
        lam.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_unknown_qualifier_and_bad_amount(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": SLOW_INIT})
    with pytest.raises(ClientError) as err:
        lam.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier="nope", ProvisionedConcurrentExecutions=1
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)
    with pytest.raises(ClientError) as err:
        lam.put_provisioned_concurrency_config(
            FunctionName=fn_name, Qualifier=version, ProvisionedConcurrentExecutions=2
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_failed_init_is_reported(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": "raise RuntimeError('broken init')\n"})
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.put_provisioned_concurrency_config(
        FunctionName=fn_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        config = lam.get_provisioned_concurrency_config(FunctionName=fn_name, Qualifier=version)
        if config["Status"] == "FAILED":
            break
        time.sleep(0.2)
    assert config["Status"] == "FAILED", config
    assert "broken init" in config.get("StatusReason", ""), config
    lam.delete_provisioned_concurrency_config(FunctionName=fn_name, Qualifier=version)


def test_survives_restart(fresh_server: Any, fn_name: str) -> None:
    srv = fresh_server()
    lam = srv.client()
    create(lam, fn_name, {"app.py": SLOW_INIT})
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.put_provisioned_concurrency_config(
        FunctionName=fn_name, Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    assert srv.stop() == 0
    from tests.e2e.conftest import Server

    again = Server(data_dir=srv.data_dir).start()
    try:
        lam2 = again.client()
        assert wait_ready(lam2, fn_name, version)["Status"] == "READY"
        out = json.loads(lam2.invoke(FunctionName=fn_name, Qualifier=version)["Payload"].read())
        assert out == {"init": "provisioned-concurrency"}
    finally:
        again.stop()
