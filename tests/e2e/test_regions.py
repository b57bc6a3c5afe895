"""Regions are namespaces (issue 15): the same function name in us-east-1 and eu-west-1 is two
functions, each region lists, reads, invokes and deletes only its own, layer versions are
numbered per region, an ARN of another region is refused as Lambda refuses it, and a data dir
written when functions were one namespace comes up with each function in its home region. Log
groups and Lambda's metrics are regional as well: each region's function logs to its own group
and each region's CloudWatch counts only its own invocations. So are HTTP APIs: listed, read and
changed in their own region only, reached by a host naming their region, and named by execute-api
ARNs of their region."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, ROLE, SECRET_KEY, Server, create, make_zip
from tests.e2e.http_client import call as http_call

EAST, WEST = "us-east-1", "eu-west-1"


def code(tag: str) -> dict[str, str]:
    return {
        "app.py": (
            "import os\n"
            "def handler(event, context):\n"
            f"    return {{'tag': {tag!r}, 'region': os.environ['AWS_REGION'],"
            " 'arn': context.invoked_function_arn}\n"
        )
    }


def regional(server: Server, region: str, service: str = "lambda") -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def invoke(client: Any, name: str) -> dict[str, Any]:
    out = client.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in out
    return json.loads(out["Payload"].read())  # type: ignore[no-any-return]


def listed(client: Any) -> set[str]:
    pages = client.get_paginator("list_functions").paginate()
    return {f["FunctionName"] for page in pages for f in page["Functions"]}


def code_of(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_the_same_name_in_two_regions_is_two_functions(server: Server, fn_name: str) -> None:
    east, west = regional(server, EAST), regional(server, WEST)
    create(east, fn_name, code("east"))
    with pytest.raises(ClientError) as e:
        west.get_function(FunctionName=fn_name)  # not created there yet
    assert code_of(e) == "ResourceNotFoundException"
    assert fn_name not in listed(west)
    create(west, fn_name, code("west"), Timeout=7)  # no conflict: another region's namespace

    assert invoke(east, fn_name)["tag"] == "east"
    body = invoke(west, fn_name)
    assert body["tag"] == "west" and body["region"] == WEST
    assert body["arn"].split(":")[3] == WEST
    assert east.get_function_configuration(FunctionName=fn_name)["Timeout"] == 3
    assert west.get_function_configuration(FunctionName=fn_name)["Timeout"] == 7

    # Versions and aliases are each region's own.
    east.publish_version(FunctionName=fn_name)
    versions = west.list_versions_by_function(FunctionName=fn_name)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST"]

    west.delete_function(FunctionName=fn_name)
    assert fn_name not in listed(west)
    assert fn_name in listed(east)
    assert invoke(east, fn_name)["tag"] == "east"  # deleting west's left east's alone
    east.delete_function(FunctionName=fn_name)


def test_an_arn_of_another_region_is_refused(server: Server, fn_name: str) -> None:
    east, west = regional(server, EAST), regional(server, WEST)
    arn = create(east, fn_name, code("east"))["FunctionArn"]
    assert east.get_function(FunctionName=arn)["Configuration"]["FunctionName"] == fn_name
    for call in (
        lambda: west.get_function(FunctionName=arn),
        lambda: west.invoke(FunctionName=arn, Payload=b"{}"),
        lambda: west.delete_function(FunctionName=arn),
        lambda: west.list_tags(Resource=arn),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code_of(e) == "ResourceNotFoundException"
        assert f"Functions from '{EAST}' are not reachable in this region ('{WEST}')" in str(e.value)
    assert invoke(east, arn)["tag"] == "east"  # the refused delete deleted nothing
    east.delete_function(FunctionName=fn_name)


def test_layer_versions_are_numbered_per_region(server: Server, fn_name: str) -> None:
    east, west = regional(server, EAST), regional(server, WEST)
    layer = f"layer-{fn_name}"
    content = {"ZipFile": make_zip({"python/shared.py": "X = 1\n"})}
    assert east.publish_layer_version(LayerName=layer, Content=content)["Version"] == 1
    assert east.publish_layer_version(LayerName=layer, Content=content)["Version"] == 2
    published = west.publish_layer_version(LayerName=layer, Content=content)
    assert published["Version"] == 1
    assert published["LayerVersionArn"].split(":")[3] == WEST
    assert [v["Version"] for v in east.list_layer_versions(LayerName=layer)["LayerVersions"]] == [2, 1]
    assert [v["Version"] for v in west.list_layer_versions(LayerName=layer)["LayerVersions"]] == [1]
    # A function uses layers of its own region only.
    east_arn = east.get_layer_version(LayerName=layer, VersionNumber=2)["LayerVersionArn"]
    with pytest.raises(ClientError) as e:
        create(west, fn_name, code("west"), Layers=[east_arn])
    assert code_of(e) == "InvalidParameterValueException"
    create(west, fn_name, code("west"), Layers=[published["LayerVersionArn"]])
    west.delete_function(FunctionName=fn_name)


def _legacy_record(name: str, region: str, code_key: str, sha: str, size: int) -> dict[str, Any]:
    latest = {
        "name": name,
        "runtime": "python3.11",
        "handler": "app.handler",
        "role": ROLE,
        "code_sha256": sha,
        "code_size": size,
        "code_key": code_key,
        "revision_id": "r1",
        "last_modified": "2024-01-01T00:00:00.000+0000",
        "home_region": region,
    }
    return {
        "latest": latest,
        "versions": {},
        "aliases": {},
        "tags": {},
        "reserved_concurrency": None,
        "last_version": 0,
    }


def test_a_data_dir_from_one_namespace_comes_up_with_functions_in_their_home_regions(
    fresh_server: Any, fn_name: str
) -> None:
    # Code stored by a running server; then the rows as the previous commit kept them (one
    # `functions` table keyed by name), written directly while the server is down.
    srv = fresh_server()
    east = regional(srv, EAST)
    made = create(east, fn_name + "-probe", code("old"))
    key = _code_key(srv.data_dir, made["CodeSha256"])
    srv.stop()
    db = srv.data_dir / "stratus.db"
    with closing(sqlite3.connect(db)) as conn, conn:  # closed, so the server can lock it again
        for name, region in ((fn_name + "-w", WEST), (fn_name + "-e", ""), (fn_name + "-x", EAST)):
            record = _legacy_record(name, region, key, made["CodeSha256"], made["CodeSize"])
            conn.execute("INSERT INTO functions(name, record) VALUES (?, ?)", (name, json.dumps(record)))
    srv.start()
    east, west = regional(srv, EAST), regional(srv, WEST)
    assert {fn_name + "-e", fn_name + "-x", fn_name + "-probe"} <= listed(east)
    assert fn_name + "-w" not in listed(east)
    assert fn_name + "-w" in listed(west)
    assert invoke(west, fn_name + "-w")["region"] == WEST
    assert invoke(east, fn_name + "-e")["tag"] == "old"  # no home region: the default, us-east-1
    srv.stop()  # the server holds its database exclusively: read what the migration left after
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM functions").fetchone()[0] == 0
        regions = dict(conn.execute("SELECT name, region FROM lambda_functions").fetchall())
    assert regions[fn_name + "-w"] == WEST and regions[fn_name + "-e"] == EAST


def _code_key(data_dir: Path, sha_b64: str) -> str:
    """The code store's key of a package (the hex of the SHA-256 Lambda reports in base64)."""
    key = base64.b64decode(sha_b64).hex()
    assert any(data_dir.rglob(f"*{key}*"))  # stored by the server, so the old rows can name it
    return key


# -- log groups and metrics are regional too ------------------------------------------------


def until(fetch: Any, done: Any, attempts: int = 100) -> Any:
    """`fetch()` until `done(result)` (a line reaches its group a moment after the invoke)."""
    for _ in range(attempts):
        result = fetch()
        if done(result):
            return result
        time.sleep(0.1)
    return result


def messages(client: Any, group: str) -> list[str]:
    return [e["message"] for e in client.filter_log_events(logGroupName=group)["events"]]


PRINTING = {
    "app.py": (
        "import os\n"
        "def handler(event, context):\n"
        "    print('hello from ' + os.environ['AWS_REGION'])\n"
        "    return {}\n"
    )
}


def test_one_function_name_in_two_regions_logs_to_two_groups(server: Server, fn_name: str) -> None:
    east, west = regional(server, EAST), regional(server, WEST)
    east_logs, west_logs = regional(server, EAST, "logs"), regional(server, WEST, "logs")
    group = f"/aws/lambda/{fn_name}"
    create(east, fn_name, PRINTING)
    invoke(east, fn_name)
    with pytest.raises(ClientError) as e:  # no line in eu-west-1 yet: no group there
        west_logs.filter_log_events(logGroupName=group)
    assert code_of(e) == "ResourceNotFoundException"
    create(west, fn_name, PRINTING)
    invoke(west, fn_name)
    invoke(west, fn_name)
    east_lines = until(lambda: messages(east_logs, group), lambda m: any("hello" in x for x in m))
    west_lines = until(lambda: messages(west_logs, group), lambda m: sum("hello" in x for x in m) >= 2)
    assert [m for m in east_lines if "hello" in m] == [f"hello from {EAST}"]
    assert [m for m in west_lines if "hello" in m] == [f"hello from {WEST}"] * 2
    assert sum(m.startswith("START ") for m in east_lines) == 1
    assert sum(m.startswith("START ") for m in west_lines) == 2
    # Each region describes its own group, with its own ARN, retention and tags.
    west_logs.put_retention_policy(logGroupName=group, retentionInDays=3)
    west_logs.tag_log_group(logGroupName=group, tags={"side": "west"})
    (east_group,) = east_logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    (west_group,) = west_logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert east_group["arn"].split(":")[3] == EAST and west_group["arn"].split(":")[3] == WEST
    assert "retentionInDays" not in east_group and west_group["retentionInDays"] == 3
    assert east_logs.list_tags_log_group(logGroupName=group)["tags"] == {}
    assert west_logs.list_tags_log_group(logGroupName=group)["tags"] == {"side": "west"}
    # A group made by CreateLogGroup is its region's alone, and so is its deletion.
    made = f"/made/{fn_name}"
    west_logs.create_log_group(logGroupName=made)
    east_logs.create_log_group(logGroupName=made)  # no conflict: another region's namespace
    west_logs.delete_log_group(logGroupName=made)
    assert [
        g["logGroupName"] for g in east_logs.describe_log_groups(logGroupNamePrefix=made)["logGroups"]
    ] == [made]
    assert west_logs.describe_log_groups(logGroupNamePrefix=made)["logGroups"] == []
    # Deleting one region's function group leaves the other region's lines.
    east_logs.delete_log_group(logGroupName=group)
    assert sum(m.startswith("START ") for m in messages(west_logs, group)) == 2


def invocations_counted(client: Any, name: str) -> float:
    now = datetime.now(UTC)
    points = client.get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(p["Sum"] for p in points))


def test_each_regions_metrics_count_only_its_invocations(server: Server, fn_name: str) -> None:
    east, west = regional(server, EAST), regional(server, WEST)
    create(east, fn_name, code("east"))
    create(west, fn_name, code("west"))
    invoke(east, fn_name)
    for _ in range(3):
        invoke(west, fn_name)
    east_cw, west_cw = regional(server, EAST, "cloudwatch"), regional(server, WEST, "cloudwatch")
    assert invocations_counted(east_cw, fn_name) == 1
    assert invocations_counted(west_cw, fn_name) == 3
    only_east = f"{fn_name}-east"
    create(east, only_east, code("east"))
    invoke(east, only_east)
    names = {
        d["Value"]
        for m in west_cw.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations")["Metrics"]
        for d in m["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    assert fn_name in names and only_east not in names  # eu-west-1 lists no us-east-1 function
    assert invocations_counted(west_cw, only_east) == 0


def test_a_data_dir_with_log_groups_of_one_namespace_places_them_in_their_functions_region(
    fresh_server: Any, fn_name: str
) -> None:
    """A logs.db as the previous commit wrote it (chunks without a region, retention keyed by
    group) and a group made by CreateLogGroup then: the function's group comes up in the
    function's region, the other in us-east-1, with their retention and tags."""
    srv = fresh_server()
    create(regional(srv, WEST), fn_name, PRINTING)  # a function of eu-west-1
    srv.stop()
    group, made = f"/aws/lambda/{fn_name}", f"/made/{fn_name}"
    for leftover in srv.data_dir.glob("logs.db*"):
        leftover.unlink()
    with closing(sqlite3.connect(srv.data_dir / "logs.db")) as conn, conn:
        conn.executescript(
            "CREATE TABLE chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, log_group TEXT NOT NULL,"
            " stream TEXT NOT NULL, first_ts INTEGER NOT NULL, last_ts INTEGER NOT NULL,"
            " ingested INTEGER NOT NULL, bytes INTEGER NOT NULL, lines TEXT NOT NULL);"
            "CREATE INDEX chunks_group_ts ON chunks(log_group, last_ts);"
            "CREATE INDEX chunks_stream ON chunks(log_group, stream, id);"
            "CREATE TABLE retention (log_group TEXT PRIMARY KEY, days INTEGER NOT NULL);"
        )
        now = int(time.time() * 1000)
        for name, line in ((group, "an old west line"), (made, "an old made line")):
            conn.execute(
                "INSERT INTO chunks(log_group, stream, first_ts, last_ts, ingested, bytes, lines)"
                " VALUES (?, 's', ?, ?, ?, ?, ?)",
                (name, now, now, now, len(line), json.dumps([[now, line]])),
            )
        conn.execute("INSERT INTO retention VALUES (?, 7)", (group,))
    with closing(sqlite3.connect(srv.data_dir / "stratus.db")) as conn, conn:
        record = {
            "name": made,
            "created_ms": now,
            "kms_key_id": None,
            "group_class": "STANDARD",
            "tags": {"k": "v"},
        }
        conn.execute(
            "INSERT INTO documents(kind, name, record) VALUES ('logs.group', ?, ?)",
            (made, json.dumps(record)),
        )
    srv.start()
    east_logs, west_logs = regional(srv, EAST, "logs"), regional(srv, WEST, "logs")
    assert messages(west_logs, group) == ["an old west line"]
    with pytest.raises(ClientError) as e:
        east_logs.filter_log_events(logGroupName=group)
    assert code_of(e) == "ResourceNotFoundException"
    (west_group,) = west_logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert west_group["retentionInDays"] == 7
    assert messages(east_logs, made) == ["an old made line"]  # no function's: us-east-1
    assert east_logs.list_tags_log_group(logGroupName=made)["tags"] == {"k": "v"}
    assert west_logs.describe_log_groups(logGroupNamePrefix=made)["logGroups"] == []
    invoke(regional(srv, WEST), fn_name)  # new lines join the placed group
    lines = until(lambda: messages(west_logs, group), lambda m: any("hello" in x for x in m))
    assert lines[0] == "an old west line" and f"hello from {WEST}" in lines


# -- HTTP APIs are regional too ---------------------------------------------------------------

ECHO = {
    "app.py": (
        "import json, os\n"
        "def handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps({'region': os.environ['AWS_REGION'],"
        " 'domain': event['requestContext']['domainName']})}\n"
    )
}


def allow_gateway_from(lam: Any, name: str, region: str) -> None:
    """Lambda's permission for HTTP APIs of `region` only (their execute-api source ARNs)."""
    lam.add_permission(
        FunctionName=name,
        StatementId=f"apigateway-{region}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{region}:000000000000:*",
    )


def test_an_http_api_lives_in_the_region_it_was_created_in(server: Server, fn_name: str) -> None:
    west = regional(server, WEST)
    arn = create(west, fn_name, ECHO)["FunctionArn"]
    allow_gateway_from(west, fn_name, WEST)
    east_gw, west_gw = regional(server, EAST, "apigatewayv2"), regional(server, WEST, "apigatewayv2")
    api = west_gw.create_api(Name=fn_name, ProtocolType="HTTP", Target=arn)
    api_id = api["ApiId"]
    assert api_id in {a["ApiId"] for a in west_gw.get_apis()["Items"]}
    assert api_id not in {a["ApiId"] for a in east_gw.get_apis()["Items"]}
    for refused in (
        lambda: east_gw.get_api(ApiId=api_id),
        lambda: east_gw.get_routes(ApiId=api_id),
        lambda: east_gw.update_api(ApiId=api_id, Name="taken"),
        lambda: east_gw.create_stage(ApiId=api_id, StageName="prod"),
        lambda: east_gw.delete_api(ApiId=api_id),
    ):
        with pytest.raises(ClientError) as e:
            refused()
        assert code_of(e) == "NotFoundException"
    assert west_gw.get_api(ApiId=api_id)["Name"] == fn_name  # the refusals changed nothing

    # The path form names no region; the host form must name the API's own.
    answer = http_call(api["ApiEndpoint"] + "/x")
    assert answer.status == 200, answer.body
    assert answer.json() == {"region": WEST, "domain": f"{api_id}.execute-api.{WEST}.amazonaws.com"}
    west_host = f"{api_id}.execute-api.{WEST}.localhost"
    assert http_call(f"{server.endpoint}/x", headers={"Host": west_host}).json()["domain"] == west_host
    wrong = http_call(f"{server.endpoint}/x", headers={"Host": f"{api_id}.execute-api.{EAST}.localhost"})
    assert (wrong.status, wrong.json()) == (404, {"message": "Not Found"})

    west_gw.delete_api(ApiId=api_id)
    assert http_call(api["ApiEndpoint"] + "/x").status == 404


def test_an_http_apis_source_arn_names_its_own_region(server: Server, fn_name: str) -> None:
    """An API of eu-west-1 invoking a function of us-east-1 is held to the function's
    permission for execute-api ARNs of eu-west-1 (the API's region), not the function's."""
    east = regional(server, EAST)
    arn = create(east, fn_name, ECHO)["FunctionArn"]
    allow_gateway_from(east, fn_name, EAST)
    api = regional(server, WEST, "apigatewayv2").create_api(Name=fn_name, ProtocolType="HTTP", Target=arn)
    refused = http_call(api["ApiEndpoint"] + "/x")
    assert (refused.status, refused.json()) == (500, {"message": "Internal Server Error"})
    allow_gateway_from(east, fn_name, WEST)
    answer = http_call(api["ApiEndpoint"] + "/x")
    assert answer.status == 200, answer.body
    assert answer.json()["region"] == EAST  # the integration's function runs in its own region


def _legacy_api(api_id: str, function_arn: str | None) -> dict[str, Any]:
    """An HTTP API's document as the previous commit kept it (no `region`): quick-created, its
    $default stage serving its one deployment; with no function, an API with nothing yet."""
    now = "2026-01-01T00:00:00Z"
    stage = {"stageName": "$default", "createdDate": now, "lastUpdatedDate": now, "autoDeploy": True}
    api: dict[str, Any] = {
        "apiId": api_id,
        "name": api_id,
        "createdDate": now,
        "routes": {},
        "integrations": {},
        "stages": {"$default": stage},
        "deployments": {},
        "snapshots": True,
    }
    if function_arn is not None:
        integration = {
            "integrationId": "i1",
            "integrationType": "AWS_PROXY",
            "integrationUri": function_arn,
            "payloadFormatVersion": "2.0",
        }
        api["integrations"] = {"i1": integration}
        api["routes"] = {"r1": {"routeId": "r1", "routeKey": "$default", "target": "integrations/i1"}}
        api["deployments"] = {
            "d1": {"deploymentId": "d1", "createdDate": now, "autoDeployed": True}
            | {"routes": api["routes"], "integrations": api["integrations"]}
        }
        stage["deploymentId"] = "d1"
    return api


def test_a_data_dir_with_http_apis_of_one_namespace_places_them(fresh_server: Any, fn_name: str) -> None:
    """HTTP APIs kept before they were regional: one whose integration names a function of
    eu-west-1 comes up in eu-west-1 (and serves), one with no integration in us-east-1."""
    srv = fresh_server()
    west = regional(srv, WEST)
    arn = create(west, fn_name, ECHO)["FunctionArn"]
    allow_gateway_from(west, fn_name, WEST)
    srv.stop()
    with closing(sqlite3.connect(srv.data_dir / "stratus.db")) as conn, conn:
        for api_id, target in (("oldwest001", arn), ("oldbare001", None)):
            conn.execute(
                "INSERT INTO documents(kind, name, record) VALUES ('httpapi', ?, ?)",
                (api_id, json.dumps(_legacy_api(api_id, target))),
            )
    srv.start()
    east_gw, west_gw = regional(srv, EAST, "apigatewayv2"), regional(srv, WEST, "apigatewayv2")
    assert {a["ApiId"] for a in west_gw.get_apis()["Items"]} == {"oldwest001"}
    assert {a["ApiId"] for a in east_gw.get_apis()["Items"]} == {"oldbare001"}
    with pytest.raises(ClientError) as e:
        east_gw.get_api(ApiId="oldwest001")
    assert code_of(e) == "NotFoundException"
    answer = http_call(f"{srv.endpoint}/_stratus/api/oldwest001/x")
    assert answer.status == 200, answer.body
    assert answer.json()["region"] == WEST


# -- each region its own account concurrency --------------------------------------------------

# Holds its invocation open until told to go (a message on the `go` queue), having said that it
# runs (a message on `started`): the test fills a region's limit without guessing at times.
HOLDING = {
    "app.py": (
        "import os, boto3\n"
        "sqs = boto3.client('sqs')\n"
        "def handler(event, context):\n"
        "    if 'started' in event:\n"
        "        sqs.send_message(QueueUrl=event['started'], MessageBody='running')\n"
        "        while not sqs.receive_message(QueueUrl=event['go'], WaitTimeSeconds=5).get('Messages'):\n"
        "            pass\n"
        "    return {'region': os.environ['AWS_REGION']}\n"
    )
}


def received(sqs: Any, queue_url: str) -> bool:
    """Whether a message reaches the queue within a minute (long polls of 10 s each)."""
    polls = (sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10) for _ in range(6))
    return any(poll.get("Messages") for poll in polls)


def test_each_region_has_its_own_account_concurrency(fresh_server: Any, fn_name: str) -> None:
    """Lambda's account concurrency limit (here 1) is per region: us-east-1 running its one
    invocation throttles its next and leaves eu-west-1's function its whole limit; reserved
    concurrency is carved out of each region's own pool, and GetAccountSettings answers the
    request's region's numbers."""
    srv = fresh_server(
        STRATUS_CONCURRENCY_LIMIT="1", STRATUS_MIN_UNRESERVED_CONCURRENCY="0", STRATUS_IAM="off"
    )
    east, west = regional(srv, EAST), regional(srv, WEST)
    create(east, fn_name, HOLDING, Timeout=60)
    create(west, fn_name, HOLDING, Timeout=60)
    sqs = regional(srv, EAST, "sqs")
    started = sqs.create_queue(QueueName=fn_name + "-started")["QueueUrl"]
    go = sqs.create_queue(QueueName=fn_name + "-go")["QueueUrl"]
    hold = json.dumps({"started": started, "go": go}).encode()
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(east.invoke, FunctionName=fn_name, Payload=hold)
        assert received(sqs, started), "the held invocation never ran"
        with pytest.raises(ClientError) as e:
            east.invoke(FunctionName=fn_name, Payload=b"{}")
        assert code_of(e) == "TooManyRequestsException"
        assert e.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert invoke(west, fn_name) == {"region": WEST}  # eu-west-1's limit is untouched
        sqs.send_message(QueueUrl=go, MessageBody="go")
        assert json.loads(held.result()["Payload"].read()) == {"region": EAST}

    def unreserved(client: Any) -> int:
        return int(client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"])

    east.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)
    assert (unreserved(east), unreserved(west)) == (0, 1)
    # One account-wide pool would have none left for this: eu-west-1's is its own.
    west.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)
    assert (unreserved(east), unreserved(west)) == (0, 0)
    usage = west.get_account_settings()["AccountUsage"]
    assert usage["FunctionCount"] == 1  # eu-west-1's function only


# -- metrics code publishes are regional too ----------------------------------------------------

EMF_PRINTING = {
    "app.py": (
        "import json, time\n"
        "def handler(event, context):\n"
        "    print(json.dumps({'_aws': {'Timestamp': int(time.time() * 1000), 'CloudWatchMetrics':"
        " [{'Namespace': event['namespace'], 'Dimensions': [[]],"
        " 'Metrics': [{'Name': 'Emitted', 'Unit': 'Count'}]}]}, 'Emitted': 4}))\n"
        "    return {}\n"
    )
}


def test_published_metrics_are_read_in_their_own_region(server: Server, fn_name: str) -> None:
    """PutMetricData signed for eu-west-1, an EMF line of an eu-west-1 function and an
    eu-west-1 queue's AWS/SQS metrics are read in eu-west-1, and us-east-1 sees none of them
    (GetMetricStatistics, GetMetricData, ListMetrics)."""
    east_cw, west_cw = regional(server, EAST, "cloudwatch"), regional(server, WEST, "cloudwatch")
    namespace = f"Regional/{fn_name}"
    now = datetime.now(UTC)
    span = {"StartTime": now - timedelta(minutes=5), "EndTime": now + timedelta(minutes=5), "Period": 3600}

    def summed(cw: Any, metric: str, namespace: str = namespace, **dims: str) -> list[float]:
        dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]
        points = cw.get_metric_statistics(
            Namespace=namespace, MetricName=metric, Dimensions=dimensions, Statistics=["Sum"], **span
        )["Datapoints"]
        return [p["Sum"] for p in points]

    west_cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Put", "Value": 5.0}])
    assert summed(west_cw, "Put") == [5.0]
    assert summed(east_cw, "Put") == []
    query = {
        "Id": "put",
        "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": "Put"}, "Period": 60, "Stat": "Sum"},
    }
    window = {"StartTime": span["StartTime"], "EndTime": span["EndTime"]}
    assert west_cw.get_metric_data(MetricDataQueries=[query], **window)["MetricDataResults"][0]["Values"] == [
        5.0
    ]
    assert (
        east_cw.get_metric_data(MetricDataQueries=[query], **window)["MetricDataResults"][0]["Values"] == []
    )

    west = regional(server, WEST)
    create(west, fn_name, EMF_PRINTING)
    assert (
        west.invoke(FunctionName=fn_name, Payload=json.dumps({"namespace": namespace}))["StatusCode"] == 200
    )
    assert until(lambda: summed(west_cw, "Emitted"), lambda sums: sums == [4.0]) == [4.0]
    assert summed(east_cw, "Emitted") == []

    listed = {m["MetricName"] for m in west_cw.list_metrics(Namespace=namespace)["Metrics"]}
    assert listed == {"Put", "Emitted"}
    assert east_cw.list_metrics(Namespace=namespace)["Metrics"] == []

    sqs = regional(server, WEST, "sqs")
    queue = sqs.create_queue(QueueName=fn_name)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="counted")
    sent = until(
        lambda: summed(west_cw, "NumberOfMessagesSent", "AWS/SQS", QueueName=fn_name), lambda s: s == [1.0]
    )
    assert sent == [1.0]
    assert summed(east_cw, "NumberOfMessagesSent", "AWS/SQS", QueueName=fn_name) == []
