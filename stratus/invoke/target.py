"""What every caller of the invoke service hands it: the function as the caller named it.

The Lambda API, function URLs, HTTP APIs, the async queue and event sources each resolve their
own way of naming a function (an ARN, a URL id, an integration) down to a `Target`, and then
invoke through `InvokeService.invoke_target`, which does the rest once: the alias draw, the
trace header, the invoked ARN and the metering dimension all come from the target's fields,
never from re-parsing an ARN string.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stratus.invoke.records import InvocationResult
from stratus.observe.tracing import TraceHeader


@dataclass(frozen=True)
class Target:
    """A function, as named by its caller, in the region and account it is invoked in."""

    name: str
    qualifier: str | None  # a version, an alias, "$LATEST", or None when unqualified
    region: str
    account_id: str
    arn: str = field(init=False)  # the invoked ARN: qualified exactly when the caller qualified

    def __post_init__(self) -> None:
        # Lambda's ARN format (control's `function_arn`); kept here so that the invoke layer
        # needs nothing above it to name what it runs.
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"
        object.__setattr__(self, "arn", f"{arn}:{self.qualifier}" if self.qualifier else arn)


@dataclass(frozen=True)
class Invoked:
    """An invocation's result and the trace header the function ran under (which the Lambda
    API returns to its caller)."""

    result: InvocationResult
    trace: TraceHeader
