"""The credentials a function environment gets: a session of the function's execution role,
named after the function (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION`), as Lambda gives
each environment, with the Stratus endpoint its SDK should call.

Variables cannot change under a running process, so an environment keeps its session for its
life; the pool stops reusing one in the last quarter of its session (`reuse_for`), and its
replacement gets a new session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from stratus.identity.directory import Directory
from stratus.identity.evaluate import Principal, trusts
from stratus.identity.sessions import Sessions


@dataclass(frozen=True)
class EnvironmentCredentials:
    variables: tuple[tuple[str, str], ...]


class FunctionCredentials:
    """Issues environment sessions. Reads the directory for the role's unique id (a session
    outlives no role: see keyring.py); stateless otherwise."""

    def __init__(
        self,
        directory: Directory,
        sessions: Sessions,
        endpoint_url: str,
        duration_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._sessions = sessions
        self.endpoint_url = endpoint_url
        self.duration_s = duration_s
        self._clock = clock

    def issue(self, role_arn: str, function_name: str) -> EnvironmentCredentials:
        role = self._directory.role_by_arn(role_arn)
        # A role that does not exist (STRATUS_IAM=off, or deleted since) still gets a session:
        # with IAM on, the keyring refuses it at its first use, as AWS refuses a deleted role.
        role_id = role.role_id if role is not None else ""
        issued = self._sessions.issue(
            "assumed-role", role_arn, role_id, function_name, self.duration_s, self._clock()
        )
        return EnvironmentCredentials(
            (
                ("AWS_ACCESS_KEY_ID", issued.access_key_id),
                ("AWS_SECRET_ACCESS_KEY", issued.secret_access_key),
                ("AWS_SESSION_TOKEN", issued.session_token),
                ("AWS_ENDPOINT_URL", self.endpoint_url),
            )
        )

    @property
    def reuse_for(self) -> float:
        """How long an environment may take invocations with its session: all but its last
        quarter (at the default six hours, far more than a function's longest timeout)."""
        return self.duration_s * 3 / 4


LAMBDA = Principal("lambda.amazonaws.com", "service", None)
# The trust policy of a role Lambda may assume: what CreateFunction checks for.
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


class LambdaRoles:
    """CreateFunction's check of an execution role, as Lambda makes it (IAM on only)."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def assumable(self, role_arn: str) -> bool:
        """Whether the role exists and its trust policy lets Lambda assume it."""
        role = self._directory.role_by_arn(role_arn)
        return role is not None and trusts(role.trust, LAMBDA, {})


def fresh(expires: float, duration_s: float, now: float) -> bool:
    """Pure: a session is fresh until its last quarter (at least a function's longest timeout,
    900 s, is left at the default six hours)."""
    return expires - now > duration_s / 4
