"""The two kinds of error of the States Language: a definition Step Functions refuses at
creation (InvalidDefinition, a client error of the API) and a runtime error of an execution
(StatesError), which Retry and Catch match by name.

Neither is a `stratus.errors.StratusError`: a StatesError never reaches a client as an HTTP
error (it fails a state, and maybe the execution), and InvalidDefinition is turned into the
service's wire error by the API handlers, which own the mapping.
"""

from __future__ import annotations

# The predefined error names AWS documents (concepts-error-handling); states may raise others,
# but a user's Fail state or function must not use the "States." prefix for its own.
STATES_ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
RUNTIME = "States.Runtime"
TIMEOUT = "States.Timeout"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
PERMISSIONS = "States.Permissions"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"

# Errors States.ALL does not match: AWS documents that the wildcard "cannot catch the
# States.DataLimitExceeded terminal error or Runtime error types".
NOT_MATCHED_BY_ALL = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class InvalidDefinition(Exception):
    """A state machine definition Step Functions refuses; the message is AWS's wording, e.g.
    "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: B
    at /States/A/Next'"."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StatesError(Exception):
    """A runtime error of an execution: what Retry and Catch match on (`error`) and the text
    that travels with it (`cause`)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class StateRuntimeError(StatesError):
    """States.Runtime raised while processing a state's input or output (a path that selects
    nothing, an intrinsic function that fails, a Wait's bad timestamp, ...).

    AWS words the cause "An error occurred while executing the state 'X' (entered at the event
    id #N). <detail>". The language knows the state but not the history, so the cause here
    leaves the event id out; the executor, which knows it, calls `at_event(n)` for AWS's full
    text. `detail` is the part after the prefix, for tests and logs."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(RUNTIME, f"An error occurred while executing the state '{state}'. {detail}")
        self.state = state
        self.detail = detail

    def at_event(self, event_id: int) -> StatesError:
        return StatesError(
            self.error,
            f"An error occurred while executing the state '{self.state}' "
            f"(entered at the event id #{event_id}). {self.detail}",
        )


class PathError(Exception):
    """A path that selects nothing or cannot apply: raised by `paths`, which knows no state;
    `io` turns it into a StateRuntimeError naming the state."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
