"""Clients for the CLI: boto3 pointed at a Stratus endpoint with the root credentials."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from stratus.config import DEFAULT_PORT, default_data_dir, read_stored_credentials


def endpoint_option(f: Any) -> Any:
    f = click.option(
        "--endpoint",
        envvar="STRATUS_ENDPOINT",
        default=f"http://127.0.0.1:{DEFAULT_PORT}",
        show_default=True,
        help="The Stratus server to talk to.",
    )(f)
    f = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Read stored credentials from this data dir [default: ~/.stratus].",
    )(f)
    return f


def _credentials(data_dir: Path | None) -> tuple[str, str, str | None]:
    """(access key id, secret, session token), found as the AWS tools find them: the
    environment (Stratus's root pair by its own names, then AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, so an IAM user's or a role session's keys
    work), then the root pair stored in the data dir."""
    env = os.environ
    for key_name, secret_name, token_name in (
        ("STRATUS_ACCESS_KEY_ID", "STRATUS_SECRET_ACCESS_KEY", None),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
    ):
        key, secret = env.get(key_name), env.get(secret_name)
        if key and secret:
            return key, secret, (env.get(token_name) or None) if token_name else None
    stored = read_stored_credentials((data_dir or default_data_dir()).expanduser())
    if stored is None:
        raise click.ClickException(
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
            "STRATUS_ACCESS_KEY_ID and STRATUS_SECRET_ACCESS_KEY), or point --data-dir at the "
            "server's data dir"
        )
    return stored.access_key_id, stored.secret_access_key, None


def signed_get(endpoint: str, path: str, data_dir: Path | None) -> Any:
    """A SigV4-signed GET of one of Stratus's own JSON endpoints."""
    import json
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret, token = _credentials(data_dir)
    request = AWSRequest(method="GET", url=endpoint.rstrip("/") + path)
    region = cli_region()
    SigV4Auth(Credentials(key, secret, token), "lambda", region).add_auth(request)
    try:
        with urllib.request.urlopen(urllib.request.Request(request.url, headers=dict(request.headers))) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        raise click.ClickException(f"{body.get('__type', e.code)}: {body.get('message', e.reason)}") from None
    except OSError as e:
        raise click.ClickException(f"cannot reach {endpoint}: {e}") from None


def cli_region() -> str:
    """The region the AWS tools would pick (functions are regional: the CLI sees the functions
    of this one), else the server's default, us-east-1."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service: str, endpoint: str, data_dir: Path | None) -> Any:
    import boto3
    from botocore.config import Config

    key, secret, token = _credentials(data_dir)
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=cli_region(),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, read_timeout=930, connect_timeout=5),
    )


def fail_on_client_error(f: Any) -> Any:
    """Turn API and connection errors into one clear line and a non-zero exit."""
    import functools

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return f(*args, **kwargs)
        except ClientError as e:
            err = e.response.get("Error", {})
            raise click.ClickException(f"{err.get('Code', 'Error')}: {err.get('Message', e)}") from None
        except BotoCoreError as e:
            raise click.ClickException(str(e)) from None

    return wrapper
