"""Recorded invocations and replay (issue 20), against the real server: `stratus invocations`
lists what ran (every kind of invoke), `stratus replay` runs a recorded event again and prints
both results, tagged functions and oversized payloads are not recorded, IAM users without the
function's read right are refused, and the dashboard's Replay button works in Chromium."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.e2e.conftest import STRATUS, Server, create, make_zip
from tests.e2e.test_dashboard import browser, log_in, page  # noqa: F401  (fixtures)

APP: dict[str, str | bytes] = {
    "app.py": """
        def handler(event, context):
            custom = context.client_context.custom if context.client_context else {}
            who = (custom or {}).get("who", "nobody")
            if event.get("fail"):
                raise ValueError(f"bad order {event.get('n')} for {who}")
            return {"ok": event.get("n"), "who": who}
        """
}
FIXED: dict[str, str | bytes] = {
    "app.py": """
        def handler(event, context):
            return {"fixed": event.get("n")}
        """
}


def fresh(lam: Any, files: dict[str, str | bytes] = APP, **kwargs: Any) -> str:
    name = f"rec-{uuid.uuid4().hex[:10]}"
    create(lam, name, files, **kwargs)
    return name


def invoke(lam: Any, name: str, event: dict[str, Any], who: str | None = None) -> str:
    """Invoke synchronously; the request id."""
    kwargs: dict[str, Any] = {"FunctionName": name, "Payload": json.dumps(event).encode()}
    if who:
        context = json.dumps({"custom": {"who": who}})
        kwargs["ClientContext"] = base64.b64encode(context.encode()).decode()
    out = lam.invoke(**kwargs)
    out["Payload"].read()
    return str(out["ResponseMetadata"]["RequestId"])


def listed(server: Server, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    result = server.cli("invocations", name, *args)
    assert result.returncode == 0, result.stderr
    return result


def test_a_failed_invocation_is_listed_and_replays_with_the_same_error(server: Server, lam: Any) -> None:
    name = fresh(lam)
    ok = invoke(lam, name, {"n": 1})
    failed = invoke(lam, name, {"n": 2, "fail": True}, who="carol")
    everything = listed(server, name).stdout
    assert ok in everything and failed in everything
    only_failed = listed(server, name, "--failed").stdout
    assert failed in only_failed and ok not in only_failed
    assert "ValueError: bad order 2 for carol" in only_failed

    replayed = server.cli("replay", failed)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    # Both columns: the recorded error, and the same error again (the client context too).
    assert replayed.stdout.count("ValueError: bad order 2 for carol") == 2, replayed.stdout
    assert "RECORDED" in replayed.stdout and "REPLAY" in replayed.stdout
    # The replay is an invocation of its own, recorded too.
    assert len(listed(server, name, "--failed").stdout.split("ValueError: bad order 2")) == 3

    good = server.cli("replay", ok)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count('"ok": 1') == 2, good.stdout


def test_replay_to_another_function(server: Server, lam: Any) -> None:
    broken = fresh(lam)
    fixed = fresh(lam, FIXED)
    failed = invoke(lam, broken, {"n": 7, "fail": True})
    result = server.cli("replay", failed, "--to", fixed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bad order 7" in result.stdout and '{"fixed": 7}' in result.stdout
    assert fixed in result.stdout
    # Ran on the other function: its own list has the replay, the broken one has no new entry.
    assert listed(server, fixed).stdout.count("Succeeded") == 1
    assert listed(server, broken).stdout.count("Failed") == 1


def test_a_tagged_function_records_nothing(server: Server, lam: Any) -> None:
    quiet = fresh(lam, Tags={"stratus:record": "off"})
    loud = fresh(lam)
    invoke(lam, quiet, {"n": 1, "fail": True})
    loud_id = invoke(lam, loud, {"n": 1, "fail": True})
    assert "no recorded invocations" in listed(server, quiet).stdout
    assert loud_id in listed(server, loud).stdout


def test_a_large_payload_is_listed_without_it(server: Server, lam: Any) -> None:
    name = fresh(lam)
    big = invoke(lam, name, {"n": 3, "pad": "x" * 300_000})
    small = invoke(lam, name, {"n": 4})
    out = listed(server, name).stdout
    assert big in out and small in out
    assert "payload not recorded: too large" in out
    refused = server.cli("replay", big)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "its payload was not recorded (too large" in refused.stderr, refused.stderr


def test_an_unknown_request_id_is_a_clear_error(server: Server) -> None:
    result = server.cli("replay", "no-such-request/../id")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "ResourceNotFoundException" in result.stderr and "No recorded invocation" in result.stderr


def test_event_and_url_invocations_are_recorded(server: Server, lam: Any) -> None:
    name = fresh(lam)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 41}')
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    with urllib.request.urlopen(url + "?from=url", timeout=30) as r:
        assert r.status == 200
    deadline = time.monotonic() + 30
    while True:  # the async event runs when the queue hands it out
        out = server.cli("invocations", name).stdout
        if out.count("Succeeded") >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert out.count("Succeeded") == 2, out


def test_callers_without_rights_to_the_function_are_refused(server: Server, lam: Any, tmp_path: Path) -> None:
    name = fresh(lam)
    failed = invoke(lam, name, {"n": 5, "fail": True}, who="secret-holder")
    iam = server.client("iam")
    tag = uuid.uuid4().hex[:8]
    keys = {}
    for who, actions in (("reader", ["lambda:GetFunction", "lambda:InvokeFunction"]), ("nobody", None)):
        user = f"rec-{who}-{tag}"
        iam.create_user(UserName=user)
        if actions:
            statement = {
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"arn:aws:lambda:*:*:function:{name}",
            }
            iam.put_user_policy(
                UserName=user,
                PolicyName="replay",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
            )
        keys[who] = iam.create_access_key(UserName=user)["AccessKey"]

    def cli_as(who: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "AWS_"))}
        env.update(
            STRATUS_ENDPOINT=server.endpoint,
            AWS_ACCESS_KEY_ID=keys[who]["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=keys[who]["SecretAccessKey"],
        )
        return subprocess.run(
            [STRATUS, *args, "--data-dir", str(tmp_path / "empty")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    for args in (("invocations", name), ("replay", failed)):
        refused = cli_as("nobody", *args)
        assert refused.returncode == 1 and "AccessDenied" in refused.stderr, refused.stderr
        assert "secret-holder" not in refused.stdout + refused.stderr
    allowed = cli_as("reader", "invocations", name)
    assert allowed.returncode == 0 and failed in allowed.stdout, allowed.stderr
    replayed = cli_as("reader", "replay", failed)
    assert replayed.returncode == 1, replayed.stderr
    assert replayed.stdout.count("ValueError: bad order 5 for secret-holder") == 2, replayed.stdout


def test_the_dashboard_replay_button(page: Any, server: Server, lam: Any) -> None:  # noqa: F811
    name = fresh(lam)
    failed = invoke(lam, name, {"n": 9, "fail": True}, who="<b>mallory</b>")
    log_in(page, server)
    page.select_option("#function-filter", name)
    row = f'#recordings-table tr[data-request-id="{failed}"]'
    page.wait_for_selector(row)
    assert "bad order 9 for <b>mallory</b>" in page.inner_text(row)
    page.click(f"{row} button.replay")
    page.wait_for_selector("#replay-result:not([hidden])")
    assert page.evaluate("() => window.stratusReplays.replays") == 1
    recorded = page.inner_text("#replay-table .replay-recorded >> nth=-1")
    replayed = page.inner_text("#replay-table .replay-new >> nth=-1")
    assert "bad order 9" in recorded and "bad order 9" in replayed
    assert "function error: Unhandled" in page.inner_text("#replay-table")
    assert page.locator("#recordings-table b").count() == 0  # data is text, never markup


def test_replay_runs_the_recorded_qualifier_unless_told_another(server: Server, lam: Any) -> None:
    name = fresh(lam)
    lam.publish_version(FunctionName=name)  # version 1: the failing code
    lam.update_function_code(FunctionName=name, ZipFile=make_zip(FIXED))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    out = lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"n": 8, "fail": true}')
    assert out["FunctionError"] == "Unhandled"
    failed = str(out["ResponseMetadata"]["RequestId"])
    again = server.cli("replay", failed)  # on version 1 again: the same failure
    assert again.returncode == 1 and again.stdout.count("ValueError: bad order 8") == 2, again.stdout
    latest = server.cli("replay", failed, "--qualifier", "$LATEST")
    assert latest.returncode == 0 and '{"fixed": 8}' in latest.stdout, latest.stdout + latest.stderr


def test_a_bad_record_setting_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "STRATUS_RECORD_MAX_COUNT": "lots"}
    result = subprocess.run(
        [STRATUS, "serve", "--port", "0", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "STRATUS_RECORD_MAX_COUNT must be a number, not 'lots'" in result.stderr, result.stderr
