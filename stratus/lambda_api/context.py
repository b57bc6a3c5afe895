"""What the Lambda API's handlers read (the declared ones, the lean Invoke path and the code
download links): most of the platform's owners, but not the logs, metrics, rules or HTTP APIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from stratus.config import Config, Credentials
from stratus.control.code_signing import SigningConfigs
from stratus.control.codestore import CodeStore
from stratus.control.layers import Layers
from stratus.control.registry import Registry
from stratus.eventsources.mappings import Mappings
from stratus.eventsources.source import SourceKind
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
    # Whether an SQS queue or SNS topic ARN names one that exists: a destination or a
    # DeadLetterConfig target (topics are a front-end beside this one, so it is passed in).
    message_target_exists: Callable[[str], bool]
    # Event source mappings and the source kinds they read (by ARN service: "sqs"); None and
    # empty where the server was built without them (the API then says so).
    mappings: Mappings | None = None
    sources: Mapping[str, SourceKind] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return self.config.account_id

    @property
    def configured_host(self) -> str:
        return f"{self.config.host}:{self.config.port}"
