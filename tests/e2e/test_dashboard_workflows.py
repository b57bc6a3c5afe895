"""The dashboard's Step Functions pages in headless Chromium (Debian's, through Playwright)
against the real server: state machines made and run through boto3 with a real function as
their Task, the machine's graph drawn, and an execution's path highlighted on it (issue 19).
A state named like markup is shown as text, in the graph and in the history."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.e2e import test_dashboard
from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, Server
from tests.e2e.stepfunctions_helpers import ECHO, finished, function, states_role
from tests.e2e.test_dashboard import API, http, http_login, log_in

# Chromium, and a page of a context of its own whose script errors fail the test.
browser = test_dashboard.browser
page = test_dashboard.page

XSS = "<img src=x onerror=alert(1)>"
# Entered when the input's kind is "fast": the Task, the Choice, the branch it takes (named
# like markup), both Parallel branches, the Map and its item processor.
ENTERED = ["Work", "Route", XSS, "Fan out", "Left", "Right", "Each", "Item"]
NOT_TAKEN = ["Slow lane", "Give up"]


def definition(task: str) -> dict[str, Any]:
    return {
        "Comment": "Every kind of state the dashboard draws",
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": task,
                "ResultPath": "$.work",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Give up"}],
                "Next": "Route",
            },
            "Route": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.kind", "StringEquals": "fast", "Next": XSS},
                    {"Variable": "$.kind", "StringEquals": "slow", "Next": "Slow lane"},
                ],
                "Default": "Give up",
            },
            XSS: {"Type": "Pass", "Next": "Fan out"},
            "Slow lane": {"Type": "Pass", "Next": "Fan out"},
            "Give up": {"Type": "Fail", "Error": "NoLane", "Cause": "no lane for this kind"},
            "Fan out": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "End": True}}},
                ],
                "ResultPath": "$.fan",
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
                "ResultPath": "$.each",
                "End": True,
            },
        },
    }


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("dashboard-workflows") / "data").start()
    yield server
    server.stop()


def sfn_client(server: Server, region: str = "us-east-1") -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def made(srv: Server) -> dict[str, str]:
    """A machine with Task, Choice, Pass, Fail, Parallel and Map; one execution that took the
    fast branch (succeeded) and one that fell to the Default (failed at the Fail state)."""
    sfn = sfn_client(srv)
    role = states_role(srv, "dashboard-states")
    task = function(srv, ECHO)
    name = f"lanes-{uuid.uuid4().hex[:6]}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition(task)), roleArn=role)[
        "stateMachineArn"
    ]
    fast = sfn.start_execution(
        stateMachineArn=arn, name="fast-run", input=json.dumps({"kind": "fast", "items": [1, 2, 3]})
    )["executionArn"]
    other = sfn.start_execution(stateMachineArn=arn, name="other-run", input=json.dumps({"kind": "other"}))[
        "executionArn"
    ]
    assert finished(sfn, fast)["status"] == "SUCCEEDED"
    assert finished(sfn, other)["status"] == "FAILED"
    return {"name": name, "arn": arn, "fast": fast, "other": other}


def open_execution(page: Any, arn: str) -> None:
    page.goto(page.url.split("#")[0] + f"#/workflows/execution/{arn.replace(':', '%3A')}")
    page.wait_for_selector("#sfn-execution-graph svg.sfn-graph")
    page.wait_for_function(
        "a => { const x = window.stratusWorkflows.execution; return x && x.execution.arn === a; }", arg=arn
    )


def state_node(page: Any, name: str) -> Any:
    node = page.locator(f'#workflows-view g.sfn-state[data-state="{name}"]')
    assert node.count() == 1, name
    return node


def classes(locator: Any) -> set[str]:
    return set((locator.get_attribute("class") or "").split())


def test_the_execution_page_highlights_the_path_it_took(page: Any, srv: Server, made: dict[str, str]) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page, srv)
    open_execution(page, made["fast"])
    assert "SUCCEEDED" in page.text_content("#sfn-execution-name")
    for name in ENTERED:
        got = classes(state_node(page, name))
        assert {"highlighted", "status-succeeded"} <= got, (name, got)
    for name in NOT_TAKEN:
        got = classes(state_node(page, name))
        assert "highlighted" not in got and "status-not-reached" in got, (name, got)
    # The Map's processor ran once per item.
    assert "×3" in state_node(page, "Item").text_content()
    # The Choice's transitions: the one taken is marked, the others are not; rules are labels.
    route = '#sfn-execution-graph path.sfn-edge[data-from="Route"]'
    assert "taken" in classes(page.locator(f'{route}[data-to="{XSS}"]'))
    assert "taken" not in classes(page.locator(f'{route}[data-to="Slow lane"]'))
    assert "kind-default" in classes(page.locator(f'{route}[data-to="Give up"]'))
    labels = page.locator("#sfn-execution-graph .sfn-edge-label text").all_text_contents()
    assert '$.kind == "fast"' in labels and '$.kind == "slow"' in labels and "Default" in labels
    # The Catch edge is drawn dashed; the Parallel's branches and the Map's processor are nested.
    catch = page.locator('#sfn-execution-graph path.sfn-edge.kind-catch[data-from="Work"][data-to="Give up"]')
    assert catch.evaluate("e => getComputedStyle(e).strokeDasharray") not in ("", "none")
    fan = state_node(page, "Fan out")
    assert "sfn-group" in classes(fan) and fan.locator("g.sfn-scope").count() == 2
    assert fan.locator('g.sfn-state[data-state="Left"]').count() == 1
    assert state_node(page, "Each").locator('g.sfn-scope g.sfn-state[data-state="Item"]').count() == 1
    # The state named like markup is text, in the graph and in the history; nothing ran.
    assert state_node(page, XSS).locator("text.sfn-name").text_content() == XSS
    history_states = page.locator("#sfn-history tbody td:nth-child(3)").all_text_contents()
    assert XSS in history_states
    assert page.locator("img").count() == 0 and dialogs == []
    types = page.locator("#sfn-history tbody td:nth-child(2)").all_text_contents()
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    test_dashboard.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(test_dashboard.SCREENSHOTS / "workflow-execution.png"), full_page=True)


def test_a_failed_execution_is_red_where_it_failed(page: Any, srv: Server, made: dict[str, str]) -> None:
    log_in(page, srv)
    open_execution(page, made["other"])
    assert "FAILED" in page.text_content("#sfn-execution-name")
    assert "NoLane" in page.text_content("#sfn-execution-error")
    assert {"highlighted", "status-succeeded"} <= classes(state_node(page, "Route"))
    assert {"highlighted", "status-failed"} <= classes(state_node(page, "Give up"))
    for name in (XSS, "Slow lane", "Fan out", "Left", "Item"):
        assert "highlighted" not in classes(state_node(page, name)), name


def test_a_running_execution_is_blue_and_followed_until_it_stops(page: Any, srv: Server) -> None:
    sfn = sfn_client(srv)
    role = states_role(srv, "dashboard-states")
    hold = {
        "StartAt": "Ready",
        "States": {
            "Ready": {"Type": "Pass", "Next": "Hold"},
            "Hold": {"Type": "Wait", "Seconds": 600, "Next": "After"},
            "After": {"Type": "Pass", "End": True},
        },
    }
    arn = sfn.create_state_machine(
        name=f"hold-{uuid.uuid4().hex[:6]}", definition=json.dumps(hold), roleArn=role
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    log_in(page, srv)
    open_execution(page, run)
    assert {"highlighted", "status-running"} <= classes(state_node(page, "Hold"))
    assert "status-succeeded" in classes(state_node(page, "Ready"))
    assert "status-not-reached" in classes(state_node(page, "After"))
    sfn.stop_execution(executionArn=run, error="Enough")
    # The page follows a running execution: the stop shows without a reload.
    page.wait_for_selector('g.sfn-state[data-state="Hold"].status-failed', timeout=15000)
    assert "ABORTED" in page.text_content("#sfn-execution-name")


def test_the_lists_lead_from_regions_to_machines_to_executions(
    page: Any, srv: Server, made: dict[str, str]
) -> None:
    role = states_role(srv, "dashboard-states")
    elsewhere = sfn_client(srv, "eu-west-1").create_state_machine(
        name=f"away-{uuid.uuid4().hex[:6]}",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=role,
        type="EXPRESS",
    )["stateMachineArn"]
    log_in(page, srv)
    page.click('#nav a[data-nav="workflows"]')
    page.wait_for_selector("#sfn-list:not([hidden])")
    assert page.is_hidden("#dashboard-view")
    row = page.wait_for_selector(f'.sfn-region[data-region="us-east-1"] tr[data-machine="{made["arn"]}"]')
    assert "STANDARD" in row.text_content()
    away = page.wait_for_selector(f'.sfn-region[data-region="eu-west-1"] tr[data-machine="{elsewhere}"]')
    assert "EXPRESS" in away.text_content()
    row.query_selector("a").click()
    page.wait_for_selector("#sfn-machine:not([hidden]) #sfn-machine-graph svg.sfn-graph")
    assert page.text_content("#sfn-machine-name") == made["name"]
    # The machine's own graph: every state drawn, no execution's statuses on it.
    drawn = page.locator("#sfn-machine-graph g.sfn-state")
    assert drawn.count() == 10
    assert page.locator("#sfn-machine-graph g.highlighted, #sfn-machine-graph [data-status]").count() == 0
    fast = page.wait_for_selector(f'#sfn-executions tr[data-execution="{made["fast"]}"]')
    cells = [c.text_content() for c in fast.query_selector_all("td")]
    assert cells[0] == "fast-run" and cells[1] == "SUCCEEDED" and cells[3] != "–" and cells[4] != "–"
    assert "FAILED" in page.text_content(f'#sfn-executions tr[data-execution="{made["other"]}"]')
    fast.query_selector("a").click()
    page.wait_for_selector('#sfn-execution:not([hidden]) g.sfn-state[data-state="Route"].highlighted')
    # Back to the functions: the functions' dashboard again.
    page.click('#nav a[data-nav="functions"]')
    page.wait_for_selector("#dashboard-view:not([hidden])")
    assert page.is_hidden("#workflows-view")


def test_the_endpoints_are_behind_the_login_and_refuse_bad_arns(srv: Server, made: dict[str, str]) -> None:
    for path in ("state-machines", f"state-machine?arn={made['arn']}", f"execution?arn={made['fast']}"):
        status, _, body = http(srv, "GET", API + path)
        assert status == 401 and body["__type"] == "UnauthorizedException", path
    session = http_login(srv)
    status, _, body = http(srv, "GET", API + "state-machines", headers=session)
    assert status == 200 and made["arn"] in [m["arn"] for m in body["stateMachines"]]
    status, _, body = http(srv, "GET", API + "execution?arn=nonsense", headers=session)
    assert status == 400 and body["__type"] == "InvalidArn"
    missing = made["fast"].replace("fast-run", "never-run")
    status, _, body = http(srv, "GET", API + f"execution?arn={missing}", headers=session)
    assert status == 400 and body["__type"] == "ExecutionDoesNotExist"
    status, _, body = http(srv, "GET", API + "state-machine", headers=session)
    assert status == 400 and "arn" in body["message"]
    assert "Traceback" not in json.dumps(body)
