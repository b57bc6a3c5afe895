"""What `stratus dev` deploys: one directory given on the command line, a `stratus.toml`, or a
SAM template's `AWS::Serverless::Function` resources.

The readers are pure over the file's text and its directory, so they are tested without a
server; every mistake in a project file is a `ProjectError` naming the file and the key.

stratus.toml:

    [functions.hello]
    dir = "hello"              # relative to stratus.toml (required)
    handler = "app.handler"    # default app.handler
    runtime = "python3.11"     # default python3.11
    memory = 256               # MB
    timeout = 10               # seconds
    env = { GREETING = "hi" }
    url = true                 # a function URL (AuthType NONE)
    layers = ["layers/common"] # local directories (published on change) or layer version ARNs
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

PROJECT_FILE = "stratus.toml"
SAM_TEMPLATES = ("template.yaml", "template.yml", "template.json")
DEFAULT_RUNTIME = "python3.11"
DEFAULT_HANDLER = "app.handler"
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOML_KEYS = {"dir", "handler", "runtime", "memory", "timeout", "env", "url", "layers", "role"}


class ProjectError(click.ClickException):
    """A project file that cannot be deployed as written; the message says where and why."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function to deploy and watch: its code directory and its configuration."""

    name: str
    directory: Path
    runtime: str = DEFAULT_RUNTIME
    handler: str = DEFAULT_HANDLER
    memory: int | None = None
    timeout: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    url: bool = False
    # Each a local directory (a Path: zipped and published as a layer version, again on each
    # save) or a layer version ARN (a str, used as it is), in Lambda's merge order.
    layers: tuple[Path | str, ...] = ()
    role: str | None = None


def find_project(directory: Path) -> Path | None:
    """The project file in `directory`: stratus.toml first, else a SAM template."""
    for name in (PROJECT_FILE, *SAM_TEMPLATES):
        if (directory / name).is_file():
            return directory / name
    return None


def read_project(path: Path) -> list[FunctionSpec]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ProjectError(f"cannot read {path}: {e}") from None
    if path.name == PROJECT_FILE:
        specs = read_stratus_toml(text, path.parent, where=str(path))
    else:
        specs = read_sam_template(text, path.parent, where=str(path))
    if not specs:
        raise ProjectError(f"{path} defines no function")
    for spec in specs:
        if not spec.directory.is_dir():
            raise ProjectError(f"{path}: function {spec.name}: {spec.directory} is not a directory")
        for layer in spec.layers:
            if isinstance(layer, Path) and not layer.is_dir():
                raise ProjectError(f"{path}: function {spec.name}: layer {layer} is not a directory")
    return specs


# -- stratus.toml -------------------------------------------------------------------------------


def read_stratus_toml(text: str, base: Path, where: str = PROJECT_FILE) -> list[FunctionSpec]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProjectError(f"{where}: not valid TOML: {e}") from None
    unknown = set(doc) - {"functions"}
    if unknown:
        raise ProjectError(
            f"{where}: unknown table(s) {', '.join(sorted(unknown))}; expected [functions.NAME]"
        )
    functions = doc.get("functions", {})
    if not isinstance(functions, dict):
        raise ProjectError(f"{where}: `functions` must be a table of [functions.NAME] tables")
    return [_toml_function(name, body, base, where) for name, body in functions.items()]


def _toml_function(name: str, body: Any, base: Path, where: str) -> FunctionSpec:
    at = f"{where}: [functions.{name}]"
    if not FUNCTION_NAME.match(name):
        raise ProjectError(f"{at}: a function name is 1-64 letters, digits, - and _")
    if not isinstance(body, dict):
        raise ProjectError(f"{at} must be a table")
    unknown = set(body) - _TOML_KEYS
    if unknown:
        raise ProjectError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
    directory = _typed(body, "dir", str, at)
    if directory is None:
        raise ProjectError(f"{at}: `dir` (the function's code directory) is required")
    env = body.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str | int | float | bool) for v in env.values()):
        raise ProjectError(f"{at}: `env` must be a table of names to strings")
    layers = body.get("layers", [])
    if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
        raise ProjectError(f"{at}: `layers` must be a list of directories or layer version ARNs")
    return FunctionSpec(
        name=name,
        directory=(base / directory).resolve(),
        runtime=_typed(body, "runtime", str, at) or DEFAULT_RUNTIME,
        handler=_typed(body, "handler", str, at) or DEFAULT_HANDLER,
        memory=_typed(body, "memory", int, at),
        timeout=_typed(body, "timeout", int, at),
        env={str(k): _env_text(v) for k, v in env.items()},
        url=bool(_typed(body, "url", bool, at)),
        layers=tuple(layer_ref(x, base) for x in layers),
        role=_typed(body, "role", str, at),
    )


def _typed(body: dict[str, Any], key: str, kind: type, at: str) -> Any:
    value = body.get(key)
    # bool is an int to Python, but `memory = true` is a mistake, not 1 MB.
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise ProjectError(f"{at}: `{key}` must be a {kind.__name__}, not {value!r}")
    return value


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def layer_ref(value: str, base: Path) -> Path | str:
    """A layer version ARN as it is; anything else is a directory relative to `base`."""
    if value.startswith("arn:"):
        return value
    return (base / value).resolve()


# -- SAM templates ------------------------------------------------------------------------------


def _yaml_loader() -> Any:
    """A safe YAML loader that reads CloudFormation's short tags (`!Ref X`, `!Sub '...'`,
    `!GetAtt A.B`, ...) as their long forms ({"Ref": "X"}, {"Fn::Sub": "..."}), so a template
    written either way reads the same."""
    import yaml

    class TemplateLoader(yaml.SafeLoader):
        pass

    def intrinsic(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "Condition":
            return {"Condition": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    TemplateLoader.add_multi_constructor("!", intrinsic)
    return TemplateLoader


def load_template(text: str, where: str = "template.yaml") -> dict[str, Any]:
    import yaml

    try:
        doc = yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass: no object tags
    except yaml.YAMLError as e:
        raise ProjectError(f"{where}: not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise ProjectError(f"{where}: a template is a mapping with Resources")
    return doc


def read_sam_template(text: str, base: Path, where: str = "template.yaml") -> list[FunctionSpec]:
    doc = load_template(text, where)
    resources = doc.get("Resources")
    if not isinstance(resources, dict):
        raise ProjectError(f"{where}: no Resources mapping")
    params = _parameter_defaults(doc.get("Parameters"))
    globals_ = doc.get("Globals", {}).get("Function", {}) if isinstance(doc.get("Globals"), dict) else {}
    if not isinstance(globals_, dict):
        globals_ = {}
    specs = []
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        if not isinstance(props, dict):
            raise ProjectError(f"{where}: {logical_id}: Properties must be a mapping")
        specs.append(_sam_function(str(logical_id), {**globals_, **props}, resources, params, base, where))
    return specs


def _sam_function(
    logical_id: str,
    props: dict[str, Any],
    resources: dict[str, Any],
    params: dict[str, Any],
    base: Path,
    where: str,
) -> FunctionSpec:
    at = f"{where}: {logical_id}"
    name = resolve(props.get("FunctionName"), params)
    if not isinstance(name, str) or not FUNCTION_NAME.match(name):
        name = logical_id  # unnamed, or named by an expression only a stack can evaluate
    code_uri = resolve(props.get("CodeUri", "."), params)
    if not isinstance(code_uri, str):
        raise ProjectError(f"{at}: CodeUri must be a local directory to deploy it with `stratus dev`")
    if code_uri.startswith("s3://"):
        raise ProjectError(f"{at}: CodeUri {code_uri} is in S3; `stratus dev` deploys local directories")
    variables = (props.get("Environment") or {}).get("Variables") or {}
    env = {}
    for key, value in variables.items() if isinstance(variables, dict) else ():
        resolved = resolve(value, params)
        if resolved is not None:  # an expression only a stack can evaluate: left out
            env[str(key)] = _env_text(resolved)
    memory, timeout = resolve(props.get("MemorySize"), params), resolve(props.get("Timeout"), params)
    for label, value in (("MemorySize", memory), ("Timeout", timeout)):
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool)):
            raise ProjectError(f"{at}: {label} must be a whole number, not {value!r}")
    layers: list[Path | str] = []
    for layer in props.get("Layers") or []:
        found = _sam_layer(layer, resources, params, base)
        if found is None:
            raise ProjectError(f"{at}: cannot resolve layer {layer!r} to a directory or an ARN")
        layers.append(found)
    return FunctionSpec(
        name=name,
        directory=(base / code_uri).resolve(),
        runtime=str(resolve(props.get("Runtime"), params) or DEFAULT_RUNTIME),
        handler=str(resolve(props.get("Handler"), params) or DEFAULT_HANDLER),
        memory=memory,
        timeout=timeout,
        env=env,
        url="FunctionUrlConfig" in props,
        layers=tuple(layers),
    )


def _sam_layer(
    layer: Any, resources: dict[str, Any], params: dict[str, Any], base: Path
) -> Path | str | None:
    """A `!Ref` to a LayerVersion resource of the template is its ContentUri directory."""
    if isinstance(layer, dict) and set(layer) == {"Ref"} and layer["Ref"] in resources:
        resource = resources[layer["Ref"]]
        if isinstance(resource, dict) and resource.get("Type") in (
            "AWS::Serverless::LayerVersion",
            "AWS::Lambda::LayerVersion",
        ):
            props = resource.get("Properties") or {}
            uri = resolve(props.get("ContentUri") or props.get("Content"), params)
            return (base / uri).resolve() if isinstance(uri, str) and not uri.startswith("s3://") else None
    value = resolve(layer, params)
    return layer_ref(value, base) if isinstance(value, str) else None


def _parameter_defaults(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict):
        return {}
    return {
        str(name): body["Default"]
        for name, body in parameters.items()
        if isinstance(body, dict) and "Default" in body
    }


_SUB = re.compile(r"\$\{([^}!]+)\}")
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "000000000000", "AWS::Partition": "aws"}


def resolve(value: Any, params: dict[str, Any]) -> Any:
    """A property's value where it can be known without a stack: literals, `Ref` to a
    parameter with a default or a pseudo parameter, and `Fn::Sub` over those; None for any
    other intrinsic."""
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        ref = value["Ref"]
        return params.get(ref, PSEUDO.get(ref)) if isinstance(ref, str) else None
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        known = {**PSEUDO, **params}
        missing = [m for m in _SUB.findall(value["Fn::Sub"]) if m not in known]
        if missing:
            return None
        return _SUB.sub(lambda m: str(known[m.group(1)]), value["Fn::Sub"])
    if any(k.startswith("Fn::") or k in ("Ref", "Condition") for k in value):
        return None
    return value
