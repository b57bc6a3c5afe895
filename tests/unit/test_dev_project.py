"""`stratus dev`'s project files: stratus.toml and SAM templates, read without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.cli.devproject import (
    FunctionSpec,
    ProjectError,
    find_project,
    load_template,
    read_project,
    read_sam_template,
    read_stratus_toml,
    resolve,
)

BASE = Path("/project")

TOML = """
[functions.hello]
dir = "hello"
url = true
env = { GREETING = "hi", RETRIES = 3, DEBUG = true }

[functions.worker]
dir = "services/worker"
handler = "main.run"
runtime = "python3.12"
memory = 256
timeout = 30
layers = ["layers/common", "arn:aws:lambda:us-east-1:000000000000:layer:shared:4"]
"""


def test_stratus_toml_reads_each_function_with_defaults() -> None:
    hello, worker = read_stratus_toml(TOML, BASE)
    assert hello == FunctionSpec(
        name="hello",
        directory=BASE / "hello",
        url=True,
        env={"GREETING": "hi", "RETRIES": "3", "DEBUG": "true"},
    )
    assert hello.runtime == "python3.11" and hello.handler == "app.handler"
    assert worker.directory == BASE / "services" / "worker"
    assert (worker.handler, worker.runtime, worker.memory, worker.timeout) == (
        "main.run",
        "python3.12",
        256,
        30,
    )
    assert worker.layers == (
        BASE / "layers" / "common",
        "arn:aws:lambda:us-east-1:000000000000:layer:shared:4",
    )
    assert worker.url is False


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[functions.a]\nhandler = 'x.y'\n", "`dir`"),
        ("[functions.a]\ndir = 'a'\nmemroy = 128\n", "unknown key(s) memroy"),
        ("[functions.a]\ndir = 'a'\nmemory = '128'\n", "`memory` must be a int"),
        ("[functions.a]\ndir = 'a'\nmemory = true\n", "`memory` must be a int"),
        ("[functions.a]\ndir = 'a'\nenv = ['A=1']\n", "`env` must be a table"),
        ("[functions.a]\ndir = 'a'\nlayers = 'common'\n", "`layers` must be a list"),
        ("[functions.'bad name']\ndir = 'a'\n", "1-64 letters"),
        ("[function.a]\ndir = 'a'\n", "unknown table(s) function"),
        ("[functions.a\n", "not valid TOML"),
    ],
)
def test_stratus_toml_mistakes_are_named(text: str, says: str) -> None:
    with pytest.raises(ProjectError) as err:
        read_stratus_toml(text, BASE, where="stratus.toml")
    assert says in err.value.message and "stratus.toml" in err.value.message


SAM = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/api/
      Handler: app.lambda_handler
      MemorySize: 512
      Environment:
        Variables:
          STAGE: !Ref Stage
          TABLE: !Sub "items-${Stage}-${AWS::Region}"
          QUEUE_URL: !GetAtt Queue.QueueUrl
          PLAIN: 7
      FunctionUrlConfig:
        AuthType: NONE
      Layers:
        - !Ref Shared
      Events:
        Get:
          Type: Api
          Properties: {Path: /, Method: get}
  Named:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "named-${Stage}"
      CodeUri: src/named
      Handler: app.handler
      Runtime: python3.11
      Policies:
        - !If [IsProd, AdminAccess, !Ref AWS::NoValue]
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layers/shared
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Url:
    Value: !GetAtt ApiUrl.FunctionUrl
  Joined:
    Value: !Join [",", [!Ref Stage, !Select [0, !GetAZs ""]]]
"""


def test_sam_template_reads_functions_and_evaluates_what_needs_no_stack() -> None:
    api, named = read_sam_template(SAM, BASE)
    assert api.name == "Api"
    assert api.directory == BASE / "src" / "api"
    assert (api.handler, api.runtime, api.memory, api.timeout) == (
        "app.lambda_handler",
        "python3.12",
        512,
        10,
    )
    # !Ref to a parameter's default and !Sub over it are known; !GetAtt of a resource is not,
    # and is left out rather than set to something wrong.
    assert api.env == {"STAGE": "dev", "TABLE": "items-dev-us-east-1", "PLAIN": "7"}
    assert api.url is True
    assert api.layers == (BASE / "layers" / "shared",)
    assert named.name == "named-dev" and named.runtime == "python3.11" and named.url is False


def test_short_tags_read_as_their_long_forms() -> None:
    doc = load_template(SAM)
    assert doc["Resources"]["Api"]["Properties"]["Environment"]["Variables"]["STAGE"] == {"Ref": "Stage"}
    assert doc["Outputs"]["Url"]["Value"] == {"Fn::GetAtt": ["ApiUrl", "FunctionUrl"]}
    joined = doc["Outputs"]["Joined"]["Value"]["Fn::Join"]
    assert joined == [",", [{"Ref": "Stage"}, {"Fn::Select": [0, {"Fn::GetAZs": ""}]}]]
    long_form = load_template("A: {'Fn::GetAtt': [X, Y]}\nB: {Ref: P}\n")
    assert long_form == {"A": {"Fn::GetAtt": ["X", "Y"]}, "B": {"Ref": "P"}}


def test_resolve_knows_literals_parameters_and_pseudo_parameters_only() -> None:
    params = {"Stage": "prod"}
    assert resolve("x", params) == "x"
    assert resolve({"Ref": "Stage"}, params) == "prod"
    assert resolve({"Ref": "AWS::Region"}, params) == "us-east-1"
    assert resolve({"Ref": "Unknown"}, params) is None
    assert resolve({"Fn::Sub": "a-${Stage}"}, params) == "a-prod"
    assert resolve({"Fn::Sub": "a-${Thing.Arn}"}, params) is None
    assert resolve({"Fn::GetAtt": ["A", "B"]}, params) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: s3://b/k.zip\n",
            "in S3",
        ),
        (
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      MemorySize: big\n",
            "MemorySize must be a whole number",
        ),
        ("Resources: [1, 2]\n", "no Resources mapping"),
        ("- just\n- a list\n", "a mapping with Resources"),
        ("Resources:\n  F: {Type: X\n", "not valid YAML"),
    ],
)
def test_sam_template_mistakes_are_named(text: str, says: str) -> None:
    with pytest.raises(ProjectError) as err:
        read_sam_template(text, BASE)
    assert says in err.value.message


def test_find_project_prefers_stratus_toml_and_checks_directories(tmp_path: Path) -> None:
    assert find_project(tmp_path) is None
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: f}\n"
    )
    assert find_project(tmp_path) == tmp_path / "template.yaml"
    with pytest.raises(ProjectError, match="is not a directory"):
        read_project(tmp_path / "template.yaml")
    (tmp_path / "f").mkdir()
    assert [s.name for s in read_project(tmp_path / "template.yaml")] == ["F"]
    (tmp_path / "stratus.toml").write_text("")
    assert find_project(tmp_path) == tmp_path / "stratus.toml"
    with pytest.raises(ProjectError, match="defines no function"):
        read_project(tmp_path / "stratus.toml")
