"""What the Lambda API's handlers read (the declared ones, the lean Invoke path and the code
download links): most of the platform's owners, but not the logs, metrics, rules or HTTP APIs."""

from __future__ import annotations

from dataclasses import dataclass

from stratus.config import Config, Credentials
from stratus.control.code_signing import SigningConfigs
from stratus.control.codestore import CodeStore
from stratus.control.layers import Layers
from stratus.control.registry import Registry
from stratus.identity.authorizer import Authorizer
from stratus.identity.environments import LambdaRoles
from stratus.identity.keyring import Keyring
from stratus.invoke.async_queue import AsyncInvoker
from stratus.invoke.service import InvokeService
from stratus.runtimes.kinds import Runtimes


@dataclass(frozen=True)
class LambdaContext:
    # The account, host and port, concurrency limits and code-link lifetime.
    config: Config
    # Code links are signed with the root secret key.
    credentials: Credentials
    # Lean Invoke checks SigV4 and policies itself.
    keyring: Keyring
    authorizer: Authorizer
    # CreateFunction's role check; None with STRATUS_IAM=off (any well-formed ARN is taken).
    roles: LambdaRoles | None
    registry: Registry
    code: CodeStore
    invoker: InvokeService
    runtimes: Runtimes
    async_invoker: AsyncInvoker
    layers: Layers
    signing_configs: SigningConfigs

    @property
    def account_id(self) -> str:
        return self.config.account_id

    @property
    def configured_host(self) -> str:
        return f"{self.config.host}:{self.config.port}"
