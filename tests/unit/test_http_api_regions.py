"""HTTP APIs are regional (issue 15): each region lists, reads and changes only its own APIs,
ids stay unique across regions, a host naming another region lands nowhere, and records kept
before regions are placed in the region their integrations' functions name, else us-east-1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratus.errors import NotFound
from stratus.httpapi.apis import KIND, HttpApis, home_region
from stratus.httpapi.front import host_region
from stratus.httpapi.models import Api, Deployment, Integration, Route, Stage, now_iso
from stratus.store.sqlite import Store

WEST_ARN = "arn:aws:lambda:eu-west-1:000000000000:function:f"


def quick(api_id: str, region: str, uri: str = WEST_ARN) -> Api:
    now = now_iso()
    return Api(
        apiId=api_id,
        name=api_id,
        createdDate=now,
        region=region,
        integrations={"i1": Integration("i1", "AWS_PROXY", uri, "2.0")},
        routes={"r1": Route("r1", "GET /hello", "integrations/i1")},
        stages={"$default": Stage("$default", now, now, autoDeploy=True)},
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "stratus.db")


def test_each_region_reads_and_changes_only_its_apis(store: Store) -> None:
    apis = HttpApis(store)
    apis.create_api(quick("westapi001", "eu-west-1"))
    apis.create_api(quick("eastapi001", "us-east-1"))
    assert [a.apiId for a in apis.list("eu-west-1")] == ["westapi001"]
    assert [a.apiId for a in apis.list("us-east-1")] == ["eastapi001"]
    assert apis.list("ap-south-1") == []
    for call in (
        lambda: apis.get("us-east-1", "westapi001"),
        lambda: apis.update_api("us-east-1", "westapi001", name="x"),
        lambda: apis.delete_api("us-east-1", "westapi001"),
        lambda: apis.route("us-east-1", "westapi001", "r1"),
        lambda: apis.stage("us-east-1", "westapi001", "$default"),
        lambda: apis.create_deployment("us-east-1", "westapi001", None, None),
    ):
        with pytest.raises(NotFound, match="Invalid API identifier specified westapi001"):
            call()
    assert apis.get("eu-west-1", "westapi001").name == "westapi001"  # untouched by the refusals
    apis.delete_api("eu-west-1", "westapi001")
    assert apis.find("westapi001") is None and apis.find("eastapi001") is not None


def test_a_request_lands_by_id_or_in_the_region_its_host_names(store: Store) -> None:
    apis = HttpApis(store)
    apis.create_api(quick("westapi001", "eu-west-1"))
    assert apis.land("westapi001", "GET", "/hello") is not None  # the path form names no region
    assert apis.land("westapi001", "GET", "/hello", "eu-west-1") is not None
    assert apis.land("westapi001", "GET", "/hello", "us-east-1") is None


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("abc.execute-api.eu-west-1.localhost", "eu-west-1"),
        ("abc.execute-api.us-east-1.amazonaws.com", "us-east-1"),
        ("abc.execute-api.localhost", None),  # names no region
        ("abc.lambda-url.eu-west-1.localhost", None),
        ("localhost", None),
    ],
)
def test_host_region(host: str, region: str | None) -> None:
    assert host_region(host) == region


def test_home_region_of_a_record_from_before_regions() -> None:
    assert home_region(quick("a", "")) == "eu-west-1"
    by_invocation_arn = (
        "arn:aws:apigateway:ap-south-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:ap-south-1:000000000000:function:g:live/invocations"
    )
    assert home_region(quick("a", "", by_invocation_arn)) == "ap-south-1"
    assert home_region(Api("a", "a", now_iso())) == "us-east-1"  # no integration: the default
    # Only a deployment still names a function (the live integrations were deleted since).
    old = quick("a", "")
    captured = Deployment("d1", now_iso(), routes=dict(old.routes), integrations=dict(old.integrations))
    assert home_region(old.replace(integrations={}, routes={}, deployments={"d1": captured})) == "eu-west-1"


def test_records_from_before_regions_are_placed_once_and_stored(store: Store) -> None:
    legacy = json.loads(quick("westold001", "").to_json())
    del legacy["region"]  # as the previous commit wrote it
    store.put_document(KIND, "westold001", json.dumps(legacy))
    bare = json.loads(Api("bareold001", "bare", now_iso()).to_json())
    del bare["region"]
    store.put_document(KIND, "bareold001", json.dumps(bare))
    apis = HttpApis(store)
    assert [a.apiId for a in apis.list("eu-west-1")] == ["westold001"]
    assert [a.apiId for a in apis.list("us-east-1")] == ["bareold001"]
    stored = {k: json.loads(v)["region"] for k, v in store.load_documents(KIND).items()}
    assert stored == {"westold001": "eu-west-1", "bareold001": "us-east-1"}
