"""What `stratus serve` prints: never the secret access key, whether it came from the
environment, was generated now, or was stored by an earlier start. The dashboard's link (its
start token) is the only secret shown, and it names the dashboard's own port on loopback."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tests.e2e.conftest import REGION, SECRET_KEY, Server


class KeylessServer(Server):
    """A server started without STRATUS_ACCESS_KEY_ID and STRATUS_SECRET_ACCESS_KEY."""

    def env(self) -> dict[str, str]:
        env = super().env()
        del env["STRATUS_ACCESS_KEY_ID"], env["STRATUS_SECRET_ACCESS_KEY"]
        return env


def secret_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "secret access key" in line]


def test_a_secret_from_the_environment_is_not_printed(fresh_server: Any) -> None:
    srv = fresh_server()
    srv.client().list_functions()
    srv.stop()
    output = srv.output()
    assert SECRET_KEY not in output
    assert secret_lines(output) == ["  secret access key: from STRATUS_SECRET_ACCESS_KEY"]
    link = re.search(r"dashboard:\s+http://127\.0\.0\.1:(\d+)/_stratus/\?token=\S+", output)
    assert link and int(link.group(1)) != srv.port


def test_a_generated_secret_is_not_printed_but_stored(tmp_path: Path) -> None:
    first = KeylessServer(tmp_path / "data").start()  # it generates its credentials
    try:
        stored_at = tmp_path / "data" / "credentials.json"
        stored = json.loads(stored_at.read_text())
        assert stored_at.stat().st_mode & 0o077 == 0
        # The stored key is the live one: it signs requests this server accepts.
        lam = boto3.client(
            "lambda",
            endpoint_url=first.endpoint,
            region_name=REGION,
            aws_access_key_id=stored["AccessKeyId"],
            aws_secret_access_key=stored["SecretAccessKey"],
            config=Config(retries={"max_attempts": 1}),
        )
        lam.list_functions()
    finally:
        first.stop()
    output = first.output()
    assert stored["SecretAccessKey"] not in output
    assert stored["AccessKeyId"] in output  # the key id is not a secret
    assert secret_lines(output) == [f"  secret access key: generated now, in {stored_at} (mode 0600)"]

    again = KeylessServer(tmp_path / "data").start()  # the stored pair, read back
    again.stop()
    assert stored["SecretAccessKey"] not in again.output()
    assert secret_lines(again.output()) == [f"  secret access key: in {stored_at} (mode 0600)"]
