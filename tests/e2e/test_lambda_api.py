"""The Lambda control-plane API end to end, through boto3 and the real AWS CLI, checked against
the shapes AWS documents (botocore's service model is the reference)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import signal
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import (
    ACCESS_KEY,
    ROLE,
    SECRET_KEY,
    Server,
    create,
    make_zip,
)

ACCOUNT = "000000000000"
LAST_MODIFIED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

APP = """\
import os
import sys

TAG = {tag!r}


def handler(event, context):
    return {{
        "tag": TAG,
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "region": os.environ.get("AWS_REGION"),
        "arn": context.invoked_function_arn,
        "greeting": os.environ.get("GREETING"),
        "python": "%d.%d" % sys.version_info[:2],
        "event": event,
    }}
"""

OTHER = """\
def main(event, context):
    return {"handler": "other.main"}
"""


def code(tag: str = "v1") -> dict[str, str | bytes]:
    return {"app.py": APP.format(tag=tag), "other.py": OTHER}


def arn(name: str, region: str = "us-east-1", qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def invoke_json(lam: Any, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kwargs)
    assert resp["StatusCode"] == 200, resp
    body = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, body
    return resp, body


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"].get("Message", "")


def status_of(resp: dict[str, Any]) -> int:
    return int(resp["ResponseMetadata"]["HTTPStatusCode"])


# -- CreateFunction ------------------------------------------------------------------------------


def test_create_function_defaults(lam: Any, fn_name: str) -> None:
    zip_bytes = make_zip(code())
    resp = lam.create_function(
        FunctionName=fn_name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_bytes},
    )
    assert status_of(resp) == 201
    assert resp["FunctionName"] == fn_name
    assert resp["FunctionArn"] == arn(fn_name)
    assert resp["Runtime"] == "python3.11"
    assert resp["Role"] == ROLE
    assert resp["Handler"] == "app.handler"
    assert resp["MemorySize"] == 128
    assert resp["Timeout"] == 3
    assert resp["Version"] == "$LATEST"
    assert resp["State"] == "Active"
    assert resp["LastUpdateStatus"] == "Successful"
    assert resp["PackageType"] == "Zip"
    assert resp["Architectures"] == ["x86_64"]
    assert resp["EphemeralStorage"] == {"Size": 512}
    assert resp["Description"] == ""
    assert resp["TracingConfig"] == {"Mode": "PassThrough"}
    assert resp["CodeSha256"] == sha256_b64(zip_bytes)
    assert resp["CodeSize"] == len(zip_bytes)
    assert UUID.match(resp["RevisionId"]), resp["RevisionId"]
    assert LAST_MODIFIED.match(resp["LastModified"]), resp["LastModified"]
    assert "Environment" not in resp

    # GetFunctionConfiguration agrees with what CreateFunction answered.
    got = lam.get_function_configuration(FunctionName=fn_name)
    for key in ("FunctionArn", "CodeSha256", "CodeSize", "RevisionId", "MemorySize", "Timeout", "Version"):
        assert got[key] == resp[key], key


def test_arns_carry_the_signing_region(server: Server, fn_name: str) -> None:
    eu = boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )
    created = create(eu, fn_name, code())
    assert created["FunctionArn"] == arn(fn_name, "eu-west-1")
    assert eu.get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"] == arn(fn_name, "eu-west-1")
    pages = eu.get_paginator("list_functions").paginate()  # the shared server holds many functions
    listed = {f["FunctionName"]: f for page in pages for f in page["Functions"]}
    assert listed[fn_name]["FunctionArn"] == arn(fn_name, "eu-west-1")
    version = eu.publish_version(FunctionName=fn_name)
    assert version["FunctionArn"] == arn(fn_name, "eu-west-1", "1")
    alias = eu.create_alias(FunctionName=fn_name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"] == arn(fn_name, "eu-west-1", "live")

    _, body = invoke_json(eu, fn_name)
    assert body["region"] == "eu-west-1"
    assert body["arn"] == arn(fn_name, "eu-west-1")
    _, body = invoke_json(eu, fn_name, Qualifier="live")
    assert body["arn"] == arn(fn_name, "eu-west-1", "live")


def test_revision_id_changes_on_every_update(lam: Any, fn_name: str) -> None:
    first = create(lam, fn_name, code())["RevisionId"]
    second = lam.update_function_configuration(FunctionName=fn_name, Description="d1")["RevisionId"]
    third = lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip(code("v2")))["RevisionId"]
    assert len({first, second, third}) == 3
    assert lam.get_function_configuration(FunctionName=fn_name)["RevisionId"] == third


def test_create_with_publish_returns_version_one(lam: Any, fn_name: str) -> None:
    resp = create(lam, fn_name, code(), Publish=True, Description="first")
    assert resp["Version"] == "1"
    assert resp["FunctionArn"] == arn(fn_name, qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn_name)["Versions"]]
    assert versions == ["$LATEST", "1"]


# -- GetFunction / GetFunctionConfiguration -------------------------------------------------------


def test_get_function_code_location_and_tags(lam: Any, fn_name: str) -> None:
    zip_bytes = make_zip(code())
    created = lam.create_function(
        FunctionName=fn_name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": zip_bytes},
        Tags={"team": "core", "env": "test"},
        Environment={"Variables": {"GREETING": "hi"}},
    )
    got = lam.get_function(FunctionName=fn_name)
    assert got["Configuration"]["FunctionArn"] == created["FunctionArn"]
    assert got["Configuration"]["CodeSha256"] == sha256_b64(zip_bytes)
    assert got["Configuration"]["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert got["Tags"] == {"team": "core", "env": "test"}
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=30) as r:
        assert r.status == 200
        downloaded = r.read()
    assert downloaded == zip_bytes

    cfg = lam.get_function_configuration(FunctionName=fn_name)
    assert cfg == {**got["Configuration"], "ResponseMetadata": cfg["ResponseMetadata"]}


def test_get_with_version_and_alias_qualifiers(lam: Any, fn_name: str) -> None:
    v1_zip = make_zip(code("v1"))
    create(lam, fn_name, code("v1"))
    lam.publish_version(FunctionName=fn_name, Description="one")
    lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip(code("v2")))
    lam.create_alias(FunctionName=fn_name, Name="stable", FunctionVersion="1")

    by_version = lam.get_function(FunctionName=fn_name, Qualifier="1")["Configuration"]
    assert by_version["Version"] == "1"
    assert by_version["FunctionArn"] == arn(fn_name, qualifier="1")
    assert by_version["CodeSha256"] == sha256_b64(v1_zip)
    assert by_version["Description"] == "one"

    by_alias = lam.get_function_configuration(FunctionName=fn_name, Qualifier="stable")
    assert by_alias["Version"] == "1"
    assert by_alias["CodeSha256"] == sha256_b64(v1_zip)
    assert by_alias["FunctionArn"] in (arn(fn_name, qualifier="1"), arn(fn_name, qualifier="stable"))

    # A qualified ARN works as the function name too.
    by_arn = lam.get_function_configuration(FunctionName=arn(fn_name, qualifier="1"))
    assert by_arn["Version"] == "1"
    latest = lam.get_function_configuration(FunctionName=fn_name, Qualifier="$LATEST")
    assert latest["Version"] == "$LATEST"
    assert latest["CodeSha256"] != sha256_b64(v1_zip)


# -- ListFunctions -------------------------------------------------------------------------------


def walk_list_functions(lam: Any, **kwargs: Any) -> list[list[str]]:
    """Every page of ListFunctions as (name, version) keys, following NextMarker by hand."""
    pages: list[list[str]] = []
    marker: str | None = None
    for _ in range(100):
        params = dict(kwargs)
        if marker:
            params["Marker"] = marker
        resp = lam.list_functions(**params)
        pages.append([f"{f['FunctionName']}:{f['Version']}" for f in resp["Functions"]])
        marker = resp.get("NextMarker")
        if not marker:
            return pages
    raise AssertionError("ListFunctions never stopped returning NextMarker")


def test_list_functions_pagination(fresh_server: Any) -> None:
    srv = fresh_server()
    lam = srv.client("lambda")
    names = [f"page-{i:02d}" for i in range(7)]
    for name in reversed(names):  # creation order must not matter
        create(lam, name, code())

    pages = walk_list_functions(lam, MaxItems=3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [k for p in pages for k in p] == [f"{n}:$LATEST" for n in names]

    everything = lam.list_functions()
    assert "NextMarker" not in everything
    assert [f["FunctionName"] for f in everything["Functions"]] == names

    paginator = lam.get_paginator("list_functions")
    seen = [
        [f["FunctionName"] for f in page["Functions"]]
        for page in paginator.paginate(PaginationConfig={"PageSize": 2})
    ]
    assert [len(p) for p in seen] == [2, 2, 2, 1]
    assert [n for p in seen for n in p] == names
    built = paginator.paginate(PaginationConfig={"MaxItems": 5, "PageSize": 2}).build_full_result()
    assert [f["FunctionName"] for f in built["Functions"]] == names[:5]
    assert "NextToken" in built

    # FunctionVersion=ALL lists published versions as well as $LATEST.
    lam.publish_version(FunctionName=names[0])
    lam.update_function_code(FunctionName=names[0], ZipFile=make_zip(code("v2")))
    lam.publish_version(FunctionName=names[0])
    plain = [f"{f['FunctionName']}:{f['Version']}" for f in lam.list_functions()["Functions"]]
    assert plain == [f"{n}:$LATEST" for n in names]
    all_pages = walk_list_functions(lam, FunctionVersion="ALL", MaxItems=2)
    keys = [k for p in all_pages for k in p]
    assert sorted(keys) == sorted([f"{n}:$LATEST" for n in names] + [f"{names[0]}:1", f"{names[0]}:2"])
    assert len(keys) == len(set(keys))
    versions = {
        f["Version"]: f
        for f in lam.list_functions(FunctionVersion="ALL")["Functions"]
        if f["FunctionName"] == names[0]
    }
    assert versions["1"]["FunctionArn"] == arn(names[0], qualifier="1")
    assert versions["2"]["CodeSha256"] == versions["$LATEST"]["CodeSha256"]


def test_list_functions_pagination_with_names_that_share_a_prefix(fresh_server: Any) -> None:
    """Names where one is a prefix of another ('app', 'app-api', 'app2') are common."""
    srv = fresh_server()
    lam = srv.client("lambda")
    names = ["app", "app-api", "app2", "app_x", "apq"]
    for name in names:
        create(lam, name, code())
    keys = [k for p in walk_list_functions(lam, MaxItems=1) for k in p]
    assert sorted(keys) == sorted(f"{n}:$LATEST" for n in names), keys
    paginated = [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
        for f in page["Functions"]
    ]
    assert sorted(paginated) == sorted(names)


def test_list_all_versions_pagination_past_version_nine(fresh_server: Any) -> None:
    srv = fresh_server()
    lam = srv.client("lambda")
    create(lam, "many", code())
    for i in range(11):
        lam.update_function_configuration(FunctionName="many", Timeout=3 + i)
        assert lam.publish_version(FunctionName="many")["Version"] == str(i + 1)
    create(lam, "next", code())
    keys = [k for p in walk_list_functions(lam, FunctionVersion="ALL", MaxItems=1) for k in p]
    expected = ["many:$LATEST"] + [f"many:{i}" for i in range(1, 12)] + ["next:$LATEST"]
    assert sorted(keys) == sorted(expected), keys
    assert len(keys) == len(expected)


# -- Update ----------------------------------------------------------------------------------------


def test_update_configuration_and_code_with_waiters(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, code("v1"))
    lam.get_waiter("function_active_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    _, body = invoke_json(lam, fn_name)
    assert body["tag"] == "v1"
    assert body["python"] == "3.11"
    assert body["greeting"] is None

    updated = lam.update_function_configuration(
        FunctionName=fn_name,
        Environment={"Variables": {"GREETING": "hello"}},
        Timeout=30,
        MemorySize=256,
        Description="configured",
        Runtime="python3.12",
    )
    assert updated["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert (updated["Timeout"], updated["MemorySize"]) == (30, 256)
    assert updated["Description"] == "configured"
    assert updated["Runtime"] == "python3.12"
    assert updated["LastUpdateStatus"] in ("Successful", "InProgress")
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    cfg = lam.get_function_configuration(FunctionName=fn_name)
    assert cfg["LastUpdateStatus"] == "Successful"
    assert cfg["State"] == "Active"
    assert (cfg["Timeout"], cfg["MemorySize"], cfg["Runtime"]) == (30, 256, "python3.12")
    _, body = invoke_json(lam, fn_name)
    assert body["greeting"] == "hello"
    assert body["python"] == "3.12"

    lam.update_function_configuration(FunctionName=fn_name, Handler="other.main")
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    assert lam.get_function_configuration(FunctionName=fn_name)["Handler"] == "other.main"
    _, body = invoke_json(lam, fn_name)
    assert body == {"handler": "other.main"}
    lam.update_function_configuration(FunctionName=fn_name, Handler="app.handler")

    new_zip = make_zip(code("v2"))
    resp = lam.update_function_code(FunctionName=fn_name, ZipFile=new_zip)
    assert resp["CodeSha256"] == sha256_b64(new_zip)
    assert resp["CodeSize"] == len(new_zip)
    assert resp["Version"] == "$LATEST"
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    _, body = invoke_json(lam, fn_name)
    assert body["tag"] == "v2"
    assert body["greeting"] == "hello"  # configuration survives a code update

    # Removing the environment.
    cleared = lam.update_function_configuration(FunctionName=fn_name, Environment={"Variables": {}})
    assert "Variables" not in cleared.get("Environment", {}) or cleared["Environment"]["Variables"] == {}
    _, body = invoke_json(lam, fn_name)
    assert body["greeting"] is None


def test_update_code_with_publish(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, code("v1"))
    resp = lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip(code("v2")), Publish=True)
    assert resp["Version"] == "1"
    _, body = invoke_json(lam, fn_name, Qualifier="1")
    assert body["tag"] == "v2"
    assert body["version"] == "1"


def test_revision_id_mismatch_is_precondition_failed(lam: Any, fn_name: str) -> None:
    current = create(lam, fn_name, code())["RevisionId"]
    stale = str(uuid.uuid4())
    with pytest.raises(lam.exceptions.PreconditionFailedException) as exc:
        lam.update_function_configuration(FunctionName=fn_name, Timeout=10, RevisionId=stale)
    assert error_of(exc)[:2] == ("PreconditionFailedException", 412)
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip(code("v2")), RevisionId=stale)
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.publish_version(FunctionName=fn_name, RevisionId=stale)
    cfg = lam.get_function_configuration(FunctionName=fn_name)
    assert cfg["RevisionId"] == current and cfg["Timeout"] == 3

    ok = lam.update_function_configuration(FunctionName=fn_name, Timeout=10, RevisionId=current)
    assert ok["Timeout"] == 10
    version = lam.publish_version(FunctionName=fn_name, RevisionId=ok["RevisionId"])
    alias = lam.create_alias(FunctionName=fn_name, Name="a", FunctionVersion=version["Version"])
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName=fn_name, Name="a", Description="x", RevisionId=stale)
    updated = lam.update_alias(
        FunctionName=fn_name, Name="a", Description="x", RevisionId=alias["RevisionId"]
    )
    assert updated["RevisionId"] != alias["RevisionId"]


# -- Delete ----------------------------------------------------------------------------------------


def test_delete_function(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, code())
    lam.publish_version(FunctionName=fn_name)
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion="1")
    resp = lam.delete_function(FunctionName=fn_name)
    assert status_of(resp) in (200, 204)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.get_function(FunctionName=fn_name)
    assert error_of(exc)[1] == 404
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=fn_name, Payload=b"{}")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=fn_name, Name="live")
    assert fn_name not in [f["FunctionName"] for f in lam.list_functions(MaxItems=50)["Functions"]]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=fn_name)

    # The name is free again, and versions start over.
    create(lam, fn_name, code("again"))
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn_name)["Versions"]] == [
        "$LATEST"
    ]
    assert lam.publish_version(FunctionName=fn_name)["Version"] == "1"
    _, body = invoke_json(lam, fn_name)
    assert body["tag"] == "again"


def test_delete_versions(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, code("v1"))
    lam.publish_version(FunctionName=fn_name)
    lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip(code("v2")))
    lam.publish_version(FunctionName=fn_name)
    lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip(code("v3")))
    lam.publish_version(FunctionName=fn_name)
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion="1")
    lam.create_alias(
        FunctionName=fn_name,
        Name="canary",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )

    with pytest.raises(lam.exceptions.ResourceConflictException) as exc:
        lam.delete_function(FunctionName=fn_name, Qualifier="1")
    code_, status, message = error_of(exc)
    assert (code_, status) == ("ResourceConflictException", 409)
    assert "alias" in message.lower()
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.delete_function(FunctionName=fn_name, Qualifier="2")  # in the canary's routing
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.delete_function(FunctionName=fn_name, Qualifier="$LATEST")

    lam.delete_function(FunctionName=fn_name, Qualifier="3")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=fn_name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fn_name, Qualifier="3")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=fn_name, Qualifier="3")
    # Version numbers are never reused.
    lam.update_function_code(FunctionName=fn_name, ZipFile=make_zip(code("v4")))
    assert lam.publish_version(FunctionName=fn_name)["Version"] == "4"
    # The function itself is untouched and the alias still works.
    _, body = invoke_json(lam, fn_name, Qualifier="live")
    assert (body["tag"], body["version"]) == ("v1", "1")


# -- Versions --------------------------------------------------------------------------------------


def test_publish_version_and_list_versions(lam: Any, fn_name: str) -> None:
    zip1, zip2 = make_zip(code("v1")), make_zip(code("v2"))
    create(lam, fn_name, code("v1"), Description="latest description")
    v1 = lam.publish_version(FunctionName=fn_name, Description="first release")
    assert status_of(v1) == 201
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == arn(fn_name, qualifier="1")
    assert v1["Description"] == "first release"
    assert v1["CodeSha256"] == sha256_b64(zip1)
    assert v1["State"] == "Active"

    again = lam.publish_version(FunctionName=fn_name)
    assert again["Version"] == "1"  # nothing changed: no new version

    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.publish_version(FunctionName=fn_name, CodeSha256=sha256_b64(b"something else"))
    assert error_of(exc)[1] == 400

    lam.update_function_code(FunctionName=fn_name, ZipFile=zip2)
    v2 = lam.publish_version(FunctionName=fn_name, CodeSha256=sha256_b64(zip2))
    assert v2["Version"] == "2"
    assert v2["CodeSha256"] == sha256_b64(zip2)

    versions = lam.list_versions_by_function(FunctionName=fn_name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in versions] == [
        arn(fn_name),
        arn(fn_name, qualifier="1"),
        arn(fn_name, qualifier="2"),
    ]
    assert versions[1]["CodeSha256"] == sha256_b64(zip1)
    assert versions[2]["CodeSha256"] == sha256_b64(zip2)
    page = lam.list_versions_by_function(FunctionName=fn_name, MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"]
    rest = lam.list_versions_by_function(FunctionName=fn_name, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"]
    assert "NextMarker" not in rest

    _, body = invoke_json(lam, fn_name, Qualifier="1")
    assert (body["tag"], body["version"]) == ("v1", "1")
    resp, body = invoke_json(lam, fn_name, Qualifier="2")
    assert (body["tag"], body["version"]) == ("v2", "2")
    assert resp["ExecutedVersion"] == "2"
    resp, body = invoke_json(lam, fn_name)
    assert resp["ExecutedVersion"] == "$LATEST"
    assert body["version"] == "$LATEST"


def test_a_description_change_is_a_change_to_publish(lam: Any, fn_name: str) -> None:
    """PublishVersion makes a version when $LATEST's code or configuration changed since the
    last one, and only then: a description set by UpdateFunctionConfiguration is configuration;
    PublishVersion's own Description is the version's and changes nothing."""
    create(lam, fn_name, code("v1"), Description="one")
    assert lam.publish_version(FunctionName=fn_name, Description="release")["Version"] == "1"
    assert lam.publish_version(FunctionName=fn_name, Description="other words")["Version"] == "1"
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    lam.update_function_configuration(FunctionName=fn_name, Description="two")
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    published = lam.publish_version(FunctionName=fn_name)
    assert (published["Version"], published["Description"]) == ("2", "two")
    assert lam.publish_version(FunctionName=fn_name)["Version"] == "2"
    versions = lam.list_versions_by_function(FunctionName=fn_name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]


# -- Aliases ---------------------------------------------------------------------------------------


def two_versions(lam: Any, name: str) -> None:
    create(lam, name, code("v1"))
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=make_zip(code("v2")))
    lam.publish_version(FunctionName=name)


def test_alias_crud(lam: Any, fn_name: str) -> None:
    two_versions(lam, fn_name)
    created = lam.create_alias(
        FunctionName=fn_name, Name="prod", FunctionVersion="1", Description="production"
    )
    assert status_of(created) == 201
    assert created["AliasArn"] == arn(fn_name, qualifier="prod")
    assert created["Name"] == "prod"
    assert created["FunctionVersion"] == "1"
    assert created["Description"] == "production"
    assert UUID.match(created["RevisionId"])
    assert "RoutingConfig" not in created

    got = lam.get_alias(FunctionName=fn_name, Name="prod")
    assert {k: got[k] for k in ("AliasArn", "Name", "FunctionVersion", "Description", "RevisionId")} == {
        k: created[k] for k in ("AliasArn", "Name", "FunctionVersion", "Description", "RevisionId")
    }
    with pytest.raises(lam.exceptions.ResourceConflictException) as exc:
        lam.create_alias(FunctionName=fn_name, Name="prod", FunctionVersion="2")
    assert error_of(exc)[1] == 409

    lam.create_alias(FunctionName=fn_name, Name="beta", FunctionVersion="2")
    lam.create_alias(FunctionName=fn_name, Name="edge", FunctionVersion="$LATEST")
    listed = lam.list_aliases(FunctionName=fn_name)["Aliases"]
    assert sorted(a["Name"] for a in listed) == ["beta", "edge", "prod"]
    only_v2 = lam.list_aliases(FunctionName=fn_name, FunctionVersion="2")["Aliases"]
    assert [a["Name"] for a in only_v2] == ["beta"]

    updated = lam.update_alias(
        FunctionName=fn_name,
        Name="prod",
        FunctionVersion="2",
        Description="now v2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}},
    )
    assert updated["FunctionVersion"] == "2"
    assert updated["Description"] == "now v2"
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert updated["RevisionId"] != created["RevisionId"]
    assert lam.get_alias(FunctionName=fn_name, Name="prod")["RoutingConfig"] == {
        "AdditionalVersionWeights": {"1": 0.25}
    }
    # Updating only the description keeps version and routing.
    kept = lam.update_alias(FunctionName=fn_name, Name="prod", Description="again")
    assert kept["FunctionVersion"] == "2"
    assert kept["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    # Empty weights remove the routing.
    cleared = lam.update_alias(
        FunctionName=fn_name, Name="prod", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    assert not cleared.get("RoutingConfig", {}).get("AdditionalVersionWeights")

    resp = lam.delete_alias(FunctionName=fn_name, Name="prod")
    assert status_of(resp) in (200, 204)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.get_alias(FunctionName=fn_name, Name="prod")
    assert error_of(exc)[1] == 404
    assert sorted(a["Name"] for a in lam.list_aliases(FunctionName=fn_name)["Aliases"]) == ["beta", "edge"]
    # An alias to a version that does not exist is refused.
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_alias(FunctionName=fn_name, Name="ghost", FunctionVersion="9")
    # List pagination.
    page = lam.list_aliases(FunctionName=fn_name, MaxItems=1)
    assert len(page["Aliases"]) == 1 and page.get("NextMarker")
    rest = lam.list_aliases(FunctionName=fn_name, Marker=page["NextMarker"])
    assert sorted([page["Aliases"][0]["Name"], *[a["Name"] for a in rest["Aliases"]]]) == ["beta", "edge"]


def test_alias_weighted_routing_hits_both_versions(lam: Any, fn_name: str) -> None:
    two_versions(lam, fn_name)
    lam.create_alias(
        FunctionName=fn_name,
        Name="split",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    executed: Counter[str] = Counter()
    for i in range(200):
        resp, body = invoke_json(lam, fn_name, {"i": i}, Qualifier="split")
        assert body["version"] == resp["ExecutedVersion"]
        assert body["tag"] == {"1": "v1", "2": "v2"}[resp["ExecutedVersion"]]
        assert body["event"] == {"i": i}
        assert body["arn"] == arn(fn_name, qualifier="split")
        executed[resp["ExecutedVersion"]] += 1
    assert set(executed) == {"1", "2"}
    # With p=0.5 over 200 draws, fewer than 40 on either side has probability < 1e-17.
    assert executed["1"] >= 40 and executed["2"] >= 40, executed

    lam.update_alias(FunctionName=fn_name, Name="split", RoutingConfig={"AdditionalVersionWeights": {}})
    for _ in range(20):
        resp, _ = invoke_json(lam, fn_name, Qualifier="split")
        assert resp["ExecutedVersion"] == "1"


# -- Concurrency and account settings --------------------------------------------------------------


def test_function_concurrency_and_account_settings(lam: Any, fn_name: str) -> None:
    before = lam.get_account_settings()
    limit = before["AccountLimit"]["ConcurrentExecutions"]
    assert limit > 0
    assert before["AccountLimit"]["UnreservedConcurrentExecutions"] <= limit
    for key in ("TotalCodeSize", "CodeSizeUnzipped", "CodeSizeZipped"):
        assert before["AccountLimit"][key] > 0
    zip_bytes = make_zip(code())
    create(lam, fn_name, code())
    after_create = lam.get_account_settings()
    assert after_create["AccountUsage"]["FunctionCount"] == before["AccountUsage"]["FunctionCount"] + 1
    assert after_create["AccountUsage"]["TotalCodeSize"] >= before["AccountUsage"]["TotalCodeSize"] + len(
        zip_bytes
    )

    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=fn_name)
    put = lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=7)
    assert put["ReservedConcurrentExecutions"] == 7
    assert lam.get_function_concurrency(FunctionName=fn_name)["ReservedConcurrentExecutions"] == 7
    assert lam.get_function(FunctionName=fn_name)["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    reserved = lam.get_account_settings()
    assert reserved["AccountLimit"]["UnreservedConcurrentExecutions"] == (
        before["AccountLimit"]["UnreservedConcurrentExecutions"] - 7
    )
    # Changing the reservation replaces it rather than adding to it.
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=3)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == (
        before["AccountLimit"]["UnreservedConcurrentExecutions"] - 3
    )
    invoke_json(lam, fn_name)  # a reserved function still runs

    resp = lam.delete_function_concurrency(FunctionName=fn_name)
    assert status_of(resp) in (200, 204)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=fn_name)
    assert (
        lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
        == (before["AccountLimit"]["UnreservedConcurrentExecutions"])
    )
    lam.delete_function(FunctionName=fn_name)
    assert (
        lam.get_account_settings()["AccountUsage"]["FunctionCount"] == before["AccountUsage"]["FunctionCount"]
    )


def test_reserved_concurrency_of_zero_throttles(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, code())
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=0)
    try:
        with pytest.raises(lam.exceptions.TooManyRequestsException) as exc:
            lam.invoke(FunctionName=fn_name, Payload=b"{}")
        assert error_of(exc)[1] == 429
        assert exc.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        lam.delete_function_concurrency(FunctionName=fn_name)
    invoke_json(lam, fn_name)


def test_reserving_too_much_concurrency_is_refused(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, code())
    settings = lam.get_account_settings()["AccountLimit"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.put_function_concurrency(
            FunctionName=fn_name, ReservedConcurrentExecutions=settings["UnreservedConcurrentExecutions"]
        )
    code_, status, message = error_of(exc)
    assert (code_, status) == ("InvalidParameterValueException", 400)
    assert "UnreservedConcurrentExecution" in message
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_concurrency(
            FunctionName=fn_name, ReservedConcurrentExecutions=settings["ConcurrentExecutions"] + 1
        )
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=fn_name)
    assert (
        lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
        == (settings["UnreservedConcurrentExecutions"])
    )


# -- Tags --------------------------------------------------------------------------------------------


def test_tags(lam: Any, fn_name: str) -> None:
    fn_arn = create(lam, fn_name, code(), Tags={"a": "1"})["FunctionArn"]
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {"a": "1"}
    resp = lam.tag_resource(Resource=fn_arn, Tags={"b": "2", "a": "one", "with space": "v/x:y"})
    assert status_of(resp) in (200, 204)
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {"a": "one", "b": "2", "with space": "v/x:y"}
    assert lam.get_function(FunctionName=fn_name)["Tags"] == {"a": "one", "b": "2", "with space": "v/x:y"}
    resp = lam.untag_resource(Resource=fn_arn, TagKeys=["a", "with space"])
    assert status_of(resp) in (200, 204)
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {"b": "2"}
    lam.untag_resource(Resource=fn_arn, TagKeys=["b"])
    assert lam.list_tags(Resource=fn_arn)["Tags"] == {}
    assert (
        "Tags" not in lam.get_function(FunctionName=fn_name)
        or lam.get_function(FunctionName=fn_name)["Tags"] == {}
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.list_tags(Resource=arn(f"{fn_name}-missing"))


# -- The AWS CLI ------------------------------------------------------------------------------------


def test_through_the_aws_cli(server: Server, lam: Any, fn_name: str, tmp_path: Path) -> None:
    zip_path = tmp_path / "code.zip"
    zip_bytes = make_zip(code("cli"))
    zip_path.write_bytes(zip_bytes)
    created = json.loads(
        server.aws(
            "lambda",
            "create-function",
            "--function-name",
            fn_name,
            "--runtime",
            "python3.11",
            "--role",
            ROLE,
            "--handler",
            "app.handler",
            "--zip-file",
            f"fileb://{zip_path}",
            "--environment",
            "Variables={GREETING=from-cli}",
        ).stdout
    )
    assert created["FunctionArn"] == arn(fn_name)
    assert created["CodeSha256"] == sha256_b64(zip_bytes)

    listed = json.loads(server.aws("lambda", "list-functions").stdout)
    assert fn_name in [f["FunctionName"] for f in listed["Functions"]]

    got = json.loads(server.aws("lambda", "get-function", "--function-name", fn_name).stdout)
    assert got["Configuration"]["Environment"] == {"Variables": {"GREETING": "from-cli"}}

    published = json.loads(server.aws("lambda", "publish-version", "--function-name", fn_name).stdout)
    assert published["Version"] == "1"

    outfile = tmp_path / "out.json"
    result = server.aws(
        "lambda",
        "invoke",
        "--function-name",
        fn_name,
        "--qualifier",
        "1",
        "--payload",
        '{"from": "cli"}',
        str(outfile),
    )
    meta = json.loads(result.stdout)
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "1"
    assert "FunctionError" not in meta
    body = json.loads(outfile.read_text())
    assert body["tag"] == "cli"
    assert body["greeting"] == "from-cli"
    assert body["event"] == {"from": "cli"}

    failed = server.aws("lambda", "get-function", "--function-name", f"{fn_name}-nope", check=False)
    assert failed.returncode != 0
    assert "ResourceNotFoundException" in failed.stderr
    assert "Traceback" not in failed.stderr


# -- Durability ------------------------------------------------------------------------------------


def test_everything_survives_sigkill(fresh_server: Any) -> None:
    srv = fresh_server()
    lam = srv.client("lambda")
    name = "durable"
    v1_zip = make_zip(code("v1"))
    create(lam, name, code("v1"), Tags={"keep": "me"}, Environment={"Variables": {"GREETING": "persisted"}})
    v1 = lam.publish_version(FunctionName=name, Description="one")
    lam.update_function_code(FunctionName=name, ZipFile=make_zip(code("v2")))
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="the live one")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    latest = lam.get_function_configuration(FunctionName=name)
    invoke_json(lam, name, Qualifier="live")  # a warm environment exists when the server dies

    srv.stop(signal.SIGKILL)
    again = Server(data_dir=srv.data_dir).start()
    try:
        lam2 = again.client("lambda")
        cfg = lam2.get_function_configuration(FunctionName=name)
        for key in (
            "CodeSha256",
            "CodeSize",
            "RevisionId",
            "LastModified",
            "Environment",
            "Handler",
            "Runtime",
        ):
            assert cfg[key] == latest[key], key
        got = lam2.get_function(FunctionName=name)
        assert got["Tags"] == {"keep": "me"}
        assert got["Concurrency"] == {"ReservedConcurrentExecutions": 5}
        with urllib.request.urlopen(
            lam2.get_function(FunctionName=name, Qualifier="1")["Code"]["Location"], timeout=30
        ) as r:
            assert r.read() == v1_zip
        versions = lam2.list_versions_by_function(FunctionName=name)["Versions"]
        assert [v["Version"] for v in versions] == ["$LATEST", "1"]
        assert versions[1]["CodeSha256"] == v1["CodeSha256"] == sha256_b64(v1_zip)
        assert versions[1]["Description"] == "one"
        live = lam2.get_alias(FunctionName=name, Name="live")
        assert (live["FunctionVersion"], live["RevisionId"], live["Description"]) == (
            "1",
            alias["RevisionId"],
            "the live one",
        )
        assert lam2.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
        assert lam2.get_account_settings()["AccountUsage"]["FunctionCount"] == 1

        resp, body = invoke_json(lam2, name, Qualifier="live")
        assert (resp["ExecutedVersion"], body["tag"], body["greeting"]) == ("1", "v1", "persisted")
        resp, body = invoke_json(lam2, name)
        assert (resp["ExecutedVersion"], body["tag"]) == ("$LATEST", "v2")
        # And it keeps working as before: the next version number follows on.
        assert lam2.publish_version(FunctionName=name)["Version"] == "2"
    finally:
        again.stop()


def test_vpc_and_kms_settings_are_kept_and_efs_and_image_config_refused(lam: Any, fn_name: str) -> None:
    """Settings with no effect here are kept and answered as Lambda answers them (Terraform
    reads them back), and those a function would depend on (an EFS mount, a container image's
    entry point) are refused with a clear message: never accepted and dropped."""
    vpc = {"SubnetIds": ["subnet-0a1b"], "SecurityGroupIds": ["sg-0c2d"]}
    key = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    create(lam, fn_name, {"app.py": "def handler(e, c):\n    return 1\n"}, VpcConfig=vpc, KMSKeyArn=key)
    config = lam.get_function_configuration(FunctionName=fn_name)
    assert config["VpcConfig"]["SubnetIds"] == ["subnet-0a1b"]
    assert config["VpcConfig"]["SecurityGroupIds"] == ["sg-0c2d"]
    assert config["KMSKeyArn"] == key
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    lam.update_function_configuration(
        FunctionName=fn_name, VpcConfig={"SubnetIds": [], "SecurityGroupIds": []}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    assert "VpcConfig" not in lam.get_function_configuration(FunctionName=fn_name)
    assert lam.invoke(FunctionName=fn_name)["Payload"].read() == b"1"

    efs = [
        {
            "Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-0123456789abcdef0",
            "LocalMountPath": "/mnt/x",
        }
    ]
    for setting in ({"FileSystemConfigs": efs}, {"ImageConfig": {"Command": ["app.handler"]}}):
        with pytest.raises(ClientError) as refused:
            lam.update_function_configuration(FunctionName=fn_name, **setting)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert "not available here" in refused.value.response["Error"]["Message"]
