"""Terraform end to end: the real `terraform` with the hashicorp/aws provider, installed offline
from a local mirror, applies an execution role (trusting Lambda, with an AWS managed and a
customer managed policy attached), a user with an access key and a Python function using the
role against the real server; boto3 then sees what Terraform made, the function runs as its
assumed role, a second plan finds nothing to change, and destroy leaves nothing behind.

The test finds Terraform on PATH and the provider in a local mirror (see `provider_mirror`),
and skips, saying why, where either is absent. Terraform gets a CLI config of its own (via
TF_CLI_CONFIG_FILE) that installs only from that mirror, so `terraform init` never reaches for
the network; the provider's endpoints all point at the test server on loopback."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, Server, make_zip

# us-east-1, where (as in every region with AWS Signer) the provider reads each function's code
# signing configuration (GetFunctionCodeSigningConfig) after creating it.
TF_REGION = "us-east-1"
PROVIDER = "registry.terraform.io/hashicorp/aws"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TF_TIMEOUT = 600  # seconds for one terraform command; the test has no timed assertion


# -- finding Terraform and the provider ----------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    version: str
    mirror: Path  # a directory laid out as a Terraform filesystem mirror


def provider_block(provider: Provider, endpoint: str, *services: str) -> str:
    """The `terraform` and `provider "aws"` blocks every configuration here starts with: the
    mirrored provider version, TF_REGION, the root keys, and `services` sent to `endpoint`."""
    q = json.dumps  # HCL accepts JSON string literals
    width = max(map(len, services))
    endpoints = "\n".join(f"    {name.ljust(width)} = {q(endpoint)}" for name in services)
    return f"""terraform {{
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = "= {provider.version}"
    }}
  }}
}}

provider "aws" {{
  region                      = {q(TF_REGION)}
  access_key                  = {q(ACCESS_KEY)}
  secret_key                  = {q(SECRET_KEY)}
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {{
{endpoints}
  }}
}}
"""


def _platform() -> str:
    """Terraform's name for this platform, as the mirror's directories spell it (linux_amd64)."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform}_{arch}"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def _provider_versions(mirror: Path, plat: str) -> list[str]:
    """The hashicorp/aws versions `mirror` holds for `plat`, in either of the two layouts a
    filesystem mirror may use (unpacked directories or the release zips)."""
    base = mirror / PROVIDER
    if not base.is_dir():
        return []
    found = []
    for entry in base.iterdir():
        if entry.is_dir() and any((entry / plat).glob("terraform-provider-aws*")):
            found.append(entry.name)
        packed = re.fullmatch(rf"terraform-provider-aws_(.+)_{re.escape(plat)}\.zip", entry.name)
        if packed and entry.is_file():
            found.append(packed.group(1))
    return found


def _configured_mirrors() -> list[Path]:
    """Directories named by the CLI config Terraform would read here (a filesystem_mirror's
    path, a plugin cache)."""
    configs = [os.environ.get("TF_CLI_CONFIG_FILE", ""), str(Path.home() / ".terraformrc")]
    found = []
    for config in filter(None, configs):
        try:
            text = Path(config).read_text()
        except OSError:
            continue
        found += [Path(p) for p in re.findall(r'(?:\bpath|plugin_cache_dir)\s*=\s*"([^"]+)"', text)]
    return found


def _implied_mirrors() -> list[Path]:
    """The local directories Terraform itself searches for providers on Unix when no CLI config
    names any (its "implied local mirror directories", under the XDG data directories)."""
    home = Path.home()
    data_home = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    data_dirs = (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    return [
        home / ".terraform.d" / "plugins",
        data_home / "terraform" / "plugins",
        *(Path(d) / "terraform" / "plugins" for d in data_dirs if d),
    ]


def _addon_mirrors() -> list[Path]:
    """Mirrors installed as add-on packages: the direct children of the FHS's /opt."""
    try:
        return sorted(p for p in Path("/opt").iterdir() if p.is_dir())
    except OSError:
        return []


def provider_mirror() -> Provider | None:
    """The newest hashicorp/aws provider for this platform in a local mirror: the one named by
    STRATUS_TF_PLUGIN_DIR if set, else the first holding one of those named by the CLI config,
    Terraform's implied mirror directories and the add-on packages' directory."""
    plat = _platform()
    override = os.environ.get("STRATUS_TF_PLUGIN_DIR")
    candidates = (
        [Path(override)] if override else [*_configured_mirrors(), *_implied_mirrors(), *_addon_mirrors()]
    )
    for mirror in candidates:
        versions = _provider_versions(mirror, plat)
        if versions:
            return Provider(max(versions, key=_version_key), mirror)
    return None


# -- running Terraform ---------------------------------------------------------------------------


@dataclass
class Terraform:
    binary: str
    workdir: Path
    env: dict[str, str]
    logs: Path  # each command's debug log is kept there, named after it: `init.log`, `plan.log`

    def run(self, *args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        log = self.logs / f"{args[0]}.log"
        log.unlink(missing_ok=True)  # TF_LOG_PATH appends: keep only this command's last run
        done = subprocess.run(
            [self.binary, *args],
            cwd=self.workdir,
            env={**self.env, "TF_LOG": "DEBUG", "TF_LOG_PATH": str(log)},
            capture_output=True,
            text=True,
            timeout=TF_TIMEOUT,
        )
        assert done.returncode in expect, (
            f"terraform {' '.join(args)} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}\n"
            f"--- the provider's HTTP exchanges (TF_LOG=DEBUG, {log})\n{http_exchanges(log)}"
        )
        return done


_LOG_ENTRY = re.compile(r"\n(?=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")


def _field(entry: str, name: str) -> str:
    found = re.search(rf'(?:^|\s){re.escape(name)}=("(?:[^"\\]|\\.)*"|\S+)', entry)
    return found.group(1).strip('"') if found else ""


def http_exchanges(log: Path, last: int = 25) -> str:
    """The provider's last HTTP exchanges in a Terraform debug log, one line each way (operation,
    URL, query body; status, error type, body), which say what Stratus was asked and answered
    when Terraform gave up."""
    try:
        entries = _LOG_ENTRY.split(log.read_text(errors="replace"))
    except OSError:
        return "(no log)"
    lines = []
    for entry in entries:
        if "HTTP Request Sent" in entry:
            request = " ".join(
                _field(entry, name) for name in ("rpc.service", "rpc.method", "http.method", "http.url")
            )
            lines.append(f"-> {request} {_field(entry, 'http.request.body')[:400]}")
        elif "HTTP Response Received" in entry:
            body = " ".join(line.strip()[2:] for line in entry.splitlines() if line.strip().startswith("| "))
            status = _field(entry, "http.status_code")
            error = _field(entry, "http.response.header.x_amzn_errortype")
            lines.append(f"<- {status} {error} {body[:600]}")
    return "\n".join(lines[-2 * last :]) or "(no HTTP exchange logged)"


def terraform_env(tmp: Path, mirror: Path) -> dict[str, str]:
    """Terraform's environment: a CLI config that installs hashicorp/aws only from `mirror` (no
    direct installation, so nothing is fetched), no checkpoint calls, no input prompts, and no
    ambient AWS settings that could steer the provider elsewhere."""
    config = tmp / "terraform.rc"
    config.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f'    include = ["{PROVIDER}"]\n'
        "  }\n"
        "}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(proxy, None)
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


# -- the configuration ---------------------------------------------------------------------------

# The function reports who it is and what its role lets it do: reading its own configuration is
# granted by the customer managed policy Terraform attaches; listing functions is granted by
# nothing attached, so it must be refused.
HANDLER = """
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    me = boto3.client("sts").get_caller_identity()
    lam = boto3.client("lambda")
    role = lam.get_function(FunctionName=context.function_name)["Configuration"]["Role"]
    try:
        lam.list_functions()
        listing = "allowed"
    except ClientError as e:
        listing = e.response["Error"]["Code"]
    return {"arn": me["Arn"], "role": role, "listing": listing}
"""


def configuration(provider: Provider, endpoint: str, names: dict[str, str]) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    # The account comes from the caller identity data source (STS GetCallerIdentity), as real
    # configurations build ARNs; HCL interpolates it inside the quoted JSON document.
    account = "${data.aws_caller_identity.me.account_id}"
    own_function = f"arn:aws:lambda:{TF_REGION}:{account}:function:{names['function']}"
    custom = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": own_function}],
    }
    # HCL accepts JSON string literals, so json.dumps quotes every value safely.
    q = json.dumps
    return f"""
{provider_block(provider, endpoint, "iam", "lambda", "sts")}

data "aws_caller_identity" "me" {{}}

resource "aws_iam_role" "fn" {{
  name               = {q(names["role"])}
  description        = "execution role made by Terraform"
  assume_role_policy = {q(json.dumps(trust))}
}}

resource "aws_iam_role_policy_attachment" "basic" {{
  role       = aws_iam_role.fn.name
  policy_arn = {q(BASIC_EXECUTION)}
}}

resource "aws_iam_policy" "custom" {{
  name        = {q(names["policy"])}
  description = "lets the function read its own configuration"
  policy      = {q(json.dumps(custom))}
}}

resource "aws_iam_role_policy_attachment" "custom" {{
  role       = aws_iam_role.fn.name
  policy_arn = aws_iam_policy.custom.arn
}}

resource "aws_iam_user" "deployer" {{
  name = {q(names["user"])}
}}

resource "aws_iam_access_key" "deployer" {{
  user = aws_iam_user.deployer.name
}}

resource "aws_lambda_function" "fn" {{
  function_name    = {q(names["function"])}
  role             = aws_iam_role.fn.arn
  runtime          = "python3.12"
  handler          = "app.handler"
  filename         = "function.zip"
  source_code_hash = filebase64sha256("function.zip")
  timeout          = 30
  # The role's policies before the function that relies on them, as a real configuration has.
  depends_on = [aws_iam_role_policy_attachment.basic, aws_iam_role_policy_attachment.custom]
}}

output "account_id" {{
  value = data.aws_caller_identity.me.account_id
}}

output "policy_arn" {{
  value = aws_iam_policy.custom.arn
}}

output "access_key_id" {{
  value = aws_iam_access_key.deployer.id
}}

output "secret_access_key" {{
  value     = aws_iam_access_key.deployer.secret
  sensitive = true
}}
"""


def client(server: Server, service: str, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=TF_REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


def error_of(call: Any, *args: Any, **kwargs: Any) -> str:
    """The AWS error code `call` is refused with (the test fails if it succeeds)."""
    with pytest.raises(ClientError) as refused:
        call(*args, **kwargs)
    return str(refused.value.response["Error"]["Code"])


# -- the test ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def terraform() -> tuple[str, Provider]:
    """Terraform and the provider's mirror, or a skip saying which is missing (requested before
    `server` is used, so a machine without them starts no server for nothing)."""
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH")
    provider = provider_mirror()
    if provider is None:
        pytest.skip(
            f"no local mirror holds {PROVIDER} for {_platform()} (set STRATUS_TF_PLUGIN_DIR to a "
            "filesystem mirror); this test never downloads it"
        )
    return binary, provider


@pytest.mark.timeout(4 * TF_TIMEOUT)
def test_terraform_applies_plans_clean_and_destroys_role_policies_user_and_function(
    terraform: tuple[str, Provider], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    binary, provider = terraform
    server: Server = request.getfixturevalue("server")

    tag = uuid.uuid4().hex[:8]
    names = {
        "role": f"tf-role-{tag}",
        "policy": f"tf-policy-{tag}",
        "user": f"tf-user-{tag}",
        "function": f"tf-fn-{tag}",
    }
    workdir = tmp_path / "config"
    workdir.mkdir()
    (workdir / "function.zip").write_bytes(make_zip({"app.py": HANDLER}))
    (workdir / "main.tf").write_text(configuration(provider, server.endpoint, names))
    tf = Terraform(binary, workdir, terraform_env(tmp_path, provider.mirror), tmp_path)

    tf.run("init", "-input=false", "-no-color")
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    outputs = json.loads(tf.run("output", "-json", "-no-color").stdout)

    iam, lam = client(server, "iam"), client(server, "lambda")
    account = client(server, "sts").get_caller_identity()["Account"]
    assert outputs["account_id"]["value"] == account

    # The role, trusting Lambda, with both policies attached.
    role = iam.get_role(RoleName=names["role"])["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/{names['role']}"
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName=names["role"])["AttachedPolicies"]
    policy_arn = outputs["policy_arn"]["value"]
    assert {p["PolicyArn"] for p in attached} == {BASIC_EXECUTION, policy_arn}
    assert policy_arn == f"arn:aws:iam::{account}:policy/{names['policy']}"
    custom = iam.get_policy(PolicyArn=policy_arn)["Policy"]
    assert custom["AttachmentCount"] == 1
    version = iam.get_policy_version(PolicyArn=policy_arn, VersionId=custom["DefaultVersionId"])
    document = version["PolicyVersion"]["Document"]
    document = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
    own_function = f"arn:aws:lambda:{TF_REGION}:{account}:function:{names['function']}"
    assert document["Statement"][0]["Resource"] == own_function

    # The function names the role, and runs as it, held to its policies.
    fn = lam.get_function(FunctionName=names["function"])["Configuration"]
    assert fn["Role"] == role["Arn"]
    answer = lam.invoke(FunctionName=names["function"], Payload=b"{}")
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    assert payload == {
        "arn": f"arn:aws:sts::{account}:assumed-role/{names['role']}/{names['function']}",
        "role": role["Arn"],
        "listing": "AccessDeniedException",
    }

    # The access key Terraform made signs as its user.
    key, secret = outputs["access_key_id"]["value"], outputs["secret_access_key"]["value"]
    me = client(server, "sts", key, secret).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{account}:user/{names['user']}"

    # What Stratus answers reads back as what was applied: no changes (exit 0; 2 is a diff).
    tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color")

    tf.run("destroy", "-auto-approve", "-input=false", "-no-color")
    assert error_of(iam.get_role, RoleName=names["role"]) == "NoSuchEntity"
    assert error_of(iam.get_policy, PolicyArn=policy_arn) == "NoSuchEntity"
    assert error_of(iam.get_user, UserName=names["user"]) == "NoSuchEntity"
    assert error_of(lam.get_function, FunctionName=names["function"]) == "ResourceNotFoundException"
    assert error_of(client(server, "sts", key, secret).get_caller_identity) == "InvalidClientTokenId"
