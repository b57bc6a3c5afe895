"""HTTP APIs kept before deployments captured routes still serve what they served."""

from __future__ import annotations

import json
from pathlib import Path

from stratus.httpapi.apis import KIND, HttpApis
from stratus.store.sqlite import Store


def test_a_record_from_before_snapshots_serves_the_same_routes(tmp_path: Path) -> None:
    store = Store(tmp_path / "stratus.db")
    legacy = {
        "apiId": "abc123",
        "name": "old",
        "createdDate": "2026-01-01T00:00:00Z",
        "routes": {"r1": {"routeId": "r1", "routeKey": "GET /hello", "target": "integrations/i1"}},
        "integrations": {
            "i1": {
                "integrationId": "i1",
                "integrationType": "AWS_PROXY",
                "integrationUri": "arn:aws:lambda:us-east-1:000000000000:function:f",
                "payloadFormatVersion": "2.0",
            }
        },
        "stages": {
            "prod": {"stageName": "prod", "createdDate": "x", "lastUpdatedDate": "x"},
        },
        "deployments": {"d1": {"deploymentId": "d1", "createdDate": "x"}},
    }
    store.put_document(KIND, "abc123", json.dumps(legacy))
    apis = HttpApis(store)
    landing = apis.land("abc123", "GET", "/prod/hello")
    assert landing is not None and landing.route.routeKey == "GET /hello"
    assert apis.land("abc123", "GET", "/prod/other") is None
    # The migration is stored: a second load finds a current record.
    reloaded = json.loads(store.load_documents(KIND)["abc123"])
    assert reloaded["snapshots"] is True
    assert reloaded["stages"]["prod"]["deploymentId"] in reloaded["deployments"]
    store.close()
