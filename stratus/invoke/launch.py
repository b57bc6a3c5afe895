"""How an environment is launched: its runtime's plan, its variables and its snapshot key.

Contract:
1. Everything here is a pure function of a function's configuration and the plan its runtime
   gives (`InvokeService` makes the plan; `Sandbox` builds its spec from these functions).
2. The variables are the ones Lambda sets, in Lambda's precedence: the defaults first, then the
   function's own, then the runtime's, then Lambda's reserved names, which nothing overrides.
3. `snapshot_key` names the template a SnapStart configuration forks from; it does not depend
   on the region, since a forked environment gets its region's variables when it is assigned.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from stratus.control.models import FunctionConfig
from stratus.isolation.backend import SandboxSpec


@dataclass(frozen=True)
class LaunchPlan:
    """How to start this environment's runtime: argv and the variables the runtime adds."""

    argv: tuple[str, ...]
    env: dict[str, str]
    execution_env: str  # "" for custom runtimes, where Lambda sets no AWS_EXECUTION_ENV
    # Custom runtimes: where to look for the bootstrap, and the Python runtime whose zygote
    # prepares the environment (the Linux backend execs the bootstrap from its blank).
    bootstraps: tuple[str, ...] = ()
    zygote: str = ""
    # Runtimes whose own client is another program (Node.js): the Linux backend's blank execs
    # this argv once confined.
    exec_argv: tuple[str, ...] = ()
    app_dir: str | None = None  # the function's runtime artifacts, to appear at /var/runtime/app
    # An exec'd runtime client that speaks the private channel too (Stratus's Node client): it
    # keeps the channel's descriptor across the exec.
    exec_channel: bool = False

    @property
    def speaks_http(self) -> bool:
        """Whether the runtime uses the HTTP Runtime API rather than the private channel."""
        return bool(self.bootstraps or (self.exec_argv and not self.exec_channel))


@dataclass(frozen=True)
class Placement:
    """Where one environment runs and what it is called: the variables that differ between two
    environments of the same configuration."""

    region: str
    log_group: str
    log_stream: str
    provisioned: bool
    task_root: str  # the code's path as the environment sees it (the backend decides)
    # The execution role's session and the endpoint its SDK calls (identity/environments.py).
    credentials: tuple[tuple[str, str], ...] = ()


def environment(config: FunctionConfig, plan: LaunchPlan, where: Placement) -> dict[str, str]:
    """The environment's variables, as Lambda sets them."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        **config.environment,
        **plan.env,
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": config.version,
        "AWS_LAMBDA_LOG_GROUP_NAME": where.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": where.log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency" if where.provisioned else "on-demand",
        "AWS_REGION": where.region,
        "AWS_DEFAULT_REGION": where.region,
        "LAMBDA_TASK_ROOT": where.task_root,
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": config.handler,
        **dict(where.credentials),
    }
    if plan.execution_env:
        env["AWS_EXECUTION_ENV"] = plan.execution_env
    if config.log_format == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = config.app_log_level or "INFO"
    return env


def sandbox_spec(
    sandbox_id: str,
    config: FunctionConfig,
    plan: LaunchPlan,
    env: dict[str, str],
    code_dir: str,
    opt_dir: str | None,
) -> SandboxSpec:
    """What the isolation backend needs to start this environment."""
    return SandboxSpec(
        sandbox_id=sandbox_id,
        argv=plan.argv,
        env=env,
        code_dir=Path(code_dir),
        memory_mb=config.memory_size,
        runtime=config.runtime,
        handler=config.handler,
        tmp_mb=config.ephemeral_storage,
        network=config.network,
        # Custom runtimes run their own bootstrap, which no template can have initialised.
        snapshot_key=snapshot_key(config) if config.uses_snapshot() and not plan.bootstraps else None,
        zygote=plan.zygote,
        bootstraps=plan.bootstraps,
        exec_argv=plan.exec_argv,
        exec_channel=plan.exec_channel,
        opt_dir=Path(opt_dir) if opt_dir else None,
        app_dir=Path(plan.app_dir) if plan.app_dir else None,
    )


def snapshot_key(config: FunctionConfig) -> str:
    """Names the template environments of this configuration fork from. The region is not part
    of it: each environment gets its region's variables when it is forked."""
    return hashlib.sha256(repr(config.runtime_key()).encode()).hexdigest()[:32]
