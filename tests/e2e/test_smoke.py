"""The shortest path through the product: create, invoke, read the result."""

import json
from typing import Any

from tests.e2e.conftest import create


def test_create_and_invoke(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": "def handler(event, context):\n    return {'echo': event}\n"})
    lam.get_waiter("function_active_v2").wait(FunctionName=fn_name)
    resp = lam.invoke(FunctionName=fn_name, Payload=b'{"x": 1}')
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert json.loads(resp["Payload"].read()) == {"echo": {"x": 1}}
