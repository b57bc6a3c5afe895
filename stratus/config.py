"""Server configuration and root credentials.

Everything has an embedded default so that `stratus serve` needs no set-up. Credentials come
from the environment; otherwise they are generated once and kept in the data dir (mode 0600).
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 9000
DEFAULT_ACCOUNT_ID = "000000000000"
CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    generated: bool = False


@dataclass(frozen=True)
class Config:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    account_id: str = DEFAULT_ACCOUNT_ID
    # Account-wide concurrency limit: by default as many 128 MB environments as the machine's
    # memory holds (Lambda's own default quota is 1,000, for a fleet rather than one machine).
    concurrency_limit: int = field(default_factory=lambda: default_concurrency_limit())
    # Lambda keeps at least 100 concurrency unreserved; here 100 or half the limit, if less.
    min_unreserved_override: int | None = None
    # Seconds an idle environment stays warm before it is stopped.
    idle_timeout: float = 300.0
    # Seconds a GetFunction Code.Location link works: Lambda's "up to 10 minutes".
    code_url_ttl: float = 600.0
    # Lambda's limit for the init phase of an on-demand environment.
    init_timeout: float = 10.0
    runtime_cache: Path = field(default_factory=lambda: default_runtime_cache())
    # Asynchronous invocation: the delay before the first retry of a function error (Lambda:
    # about a minute), and the first backoff after a throttle. Tests shorten both.
    async_retry_delay: float = 60.0
    async_backoff: float = 1.0
    # Divides schedule rates; only for tests, which cannot wait minutes.
    schedule_speedup: float = 1.0
    # Logs and metrics can be turned off (STRATUS_TELEMETRY=0), only to measure what they cost.
    telemetry: bool = True
    # How long per-minute metrics are kept: CloudWatch keeps 1-minute data for 15 days.
    metrics_retention_days: float = 15.0
    # Metering prices: AWS's public x86 prices by default.
    price_per_million_requests: float = 0.20
    price_per_gb_second: float = 0.0000166667
    # Processes and threads this instance's environments may hold together (STRATUS_MAX_PIDS);
    # None: the host-wide ceiling, half of the host's pid and thread space.
    max_pids: int | None = None
    # The dashboard's own port (`--dashboard-port`); None: a free port chosen at each start and
    # printed in the banner. Its own port, so that no function's response shares its origin.
    dashboard_port: int | None = None
    # The Prometheus scrape (/_stratus/metrics) takes a SigV4 signature, or `Authorization:
    # Bearer <metrics_token>` when a token is set, or nothing at all when metrics_public is set.
    metrics_public: bool = False
    metrics_token: str | None = None
    # The bearer token of the S3 event webhook (/_stratus/webhooks/s3, buckets/webhook.py);
    # None: one generated once into the data dir.
    s3_webhook_token: str | None = None
    # Slow clients (stratus/gateway/connections.py). Time from a connection (or a request's
    # first byte) to the end of its headers, as Apache's mod_reqtimeout starts with; keep-alive
    # idleness as an ALB's default idle timeout; a request body or a response that makes no
    # progress for this long (nginx's client_body_timeout and send_timeout).
    header_timeout: float = 20.0
    idle_connection_timeout: float = 60.0
    body_timeout: float = 60.0
    # Open client connections at most; None: sized at start from RLIMIT_NOFILE, leaving room
    # for the descriptors of environments and stores.
    max_connections: int | None = None
    # Identities (STRATUS_IAM=off turns it off): whether CreateFunction's role must exist and
    # trust Lambda, and whether callers other than root are held to their policies.
    iam: bool = True
    # How long the session credentials each function environment gets are valid
    # (STRATUS_ENV_CREDENTIAL_SECONDS); an environment is not reused in the last quarter of
    # that time, so no invocation starts with credentials about to expire.
    env_credential_seconds: int = 6 * 3600
    # SNS HTTP(S) subscriptions to loopback, link-local and the host's own addresses
    # (STRATUS_SNS_ALLOW_LOOPBACK=1), for local development; refused by default, since the
    # server itself makes those requests from the host (stratus/topics/endpoints.py).
    sns_allow_loopback: bool = False
    # Recorded invocations for replay (STRATUS_RECORD_*: count, bytes, payload size, retention
    # days per function; stratus/observe/recordings.py).
    record_limits: RecordLimits = field(default_factory=lambda: RecordLimits())

    @property
    def min_unreserved_concurrency(self) -> int:
        if self.min_unreserved_override is not None:
            return self.min_unreserved_override
        return min(100, self.concurrency_limit // 2)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "stratus.db"

    @property
    def events_db_path(self) -> Path:
        return self.data_dir / "events.db"

    @property
    def buckets_db_path(self) -> Path:
        return self.data_dir / "buckets.db"

    @property
    def queues_db_path(self) -> Path:
        return self.data_dir / "queues.db"

    @property
    def topics_db_path(self) -> Path:
        return self.data_dir / "topics.db"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def metrics_db_path(self) -> Path:
        return self.data_dir / "metrics.db"

    @property
    def logs_db_path(self) -> Path:
        return self.data_dir / "logs.db"

    @property
    def code_dir(self) -> Path:
        return self.data_dir / "code"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"


def default_concurrency_limit() -> int:
    try:
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return 100
    return max(10, min(1000, memory_mb // 128))


def default_data_dir() -> Path:
    return Path(os.environ.get("STRATUS_DATA_DIR", "~/.stratus")).expanduser()


def default_runtime_cache() -> Path:
    """Where runtime clients (awslambdaric per interpreter) are installed; shared by data dirs."""
    env = os.environ.get("STRATUS_RUNTIME_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "~/.cache")
    return Path(base).expanduser() / "stratus" / "runtimes"


def iam_setting(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("on", "1", "true", "yes"):
        return True
    if lowered in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"STRATUS_IAM must be on or off, not {value!r}")


@dataclass(frozen=True)
class RecordLimits:
    """The bounds of recorded invocations, per function (stratus/observe/recordings.py)."""

    max_count: int = 100  # recordings kept per function
    max_bytes: int = 10 * 1024 * 1024  # stored payload and result bytes per function
    max_payload: int = 256 * 1024  # a larger payload (or result) is not stored
    retention_days: float = 1.0


def record_limits_setting(env: Mapping[str, str]) -> RecordLimits:
    """The limits the STRATUS_RECORD_* settings name; ValueError says which one is wrong."""
    values: dict[str, int | float] = {}
    for name, key, kind in (
        ("STRATUS_RECORD_MAX_COUNT", "max_count", int),
        ("STRATUS_RECORD_MAX_BYTES", "max_bytes", int),
        ("STRATUS_RECORD_MAX_PAYLOAD", "max_payload", int),
        ("STRATUS_RECORD_RETENTION_DAYS", "retention_days", float),
    ):
        if name not in env:
            continue
        try:
            values[key] = kind(env[name])
        except ValueError:
            raise ValueError(f"{name} must be a number, not {env[name]!r}") from None
        if not values[key] > 0:
            raise ValueError(f"{name} must be positive")
    return RecordLimits(**values)  # type: ignore[arg-type]


def config_from_env(data_dir: Path, host: str, port: int) -> Config:
    env = os.environ
    kwargs: dict[str, object] = {}
    if "STRATUS_ACCOUNT_ID" in env:
        kwargs["account_id"] = env["STRATUS_ACCOUNT_ID"]
    if "STRATUS_CONCURRENCY_LIMIT" in env:
        kwargs["concurrency_limit"] = int(env["STRATUS_CONCURRENCY_LIMIT"])
    if "STRATUS_MIN_UNRESERVED_CONCURRENCY" in env:
        kwargs["min_unreserved_override"] = int(env["STRATUS_MIN_UNRESERVED_CONCURRENCY"])
    if "STRATUS_ASYNC_RETRY_DELAY" in env:
        kwargs["async_retry_delay"] = float(env["STRATUS_ASYNC_RETRY_DELAY"])
    if "STRATUS_ASYNC_BACKOFF" in env:
        kwargs["async_backoff"] = float(env["STRATUS_ASYNC_BACKOFF"])
    if "STRATUS_SCHEDULE_SPEEDUP" in env:
        kwargs["schedule_speedup"] = float(env["STRATUS_SCHEDULE_SPEEDUP"])
    if env.get("STRATUS_TELEMETRY") == "0":
        kwargs["telemetry"] = False
    if "STRATUS_PRICE_PER_MILLION_REQUESTS" in env:
        kwargs["price_per_million_requests"] = float(env["STRATUS_PRICE_PER_MILLION_REQUESTS"])
    if "STRATUS_PRICE_PER_GB_SECOND" in env:
        kwargs["price_per_gb_second"] = float(env["STRATUS_PRICE_PER_GB_SECOND"])
    if "STRATUS_METRICS_RETENTION_DAYS" in env:
        kwargs["metrics_retention_days"] = float(env["STRATUS_METRICS_RETENTION_DAYS"])
        if not kwargs["metrics_retention_days"] > 0:  # type: ignore[operator]
            raise ValueError("STRATUS_METRICS_RETENTION_DAYS must be a positive number of days")
    if "STRATUS_IDLE_TIMEOUT" in env:
        kwargs["idle_timeout"] = float(env["STRATUS_IDLE_TIMEOUT"])
    if "STRATUS_CODE_URL_TTL" in env:
        kwargs["code_url_ttl"] = float(env["STRATUS_CODE_URL_TTL"])
        if not 0 < kwargs["code_url_ttl"] <= 604800:  # type: ignore[operator]
            raise ValueError("STRATUS_CODE_URL_TTL must be a number of seconds from 1 to 604800")
    if env.get("STRATUS_METRICS_PUBLIC") == "1":
        kwargs["metrics_public"] = True
    if env.get("STRATUS_METRICS_TOKEN"):
        kwargs["metrics_token"] = metrics_token_setting(env["STRATUS_METRICS_TOKEN"])
    if env.get("STRATUS_SNS_ALLOW_LOOPBACK") == "1":
        kwargs["sns_allow_loopback"] = True
    if env.get("STRATUS_S3_WEBHOOK_TOKEN"):
        kwargs["s3_webhook_token"] = env["STRATUS_S3_WEBHOOK_TOKEN"]
    kwargs["max_pids"] = max_pids_setting()  # a bad value stops the start here, with its message
    for name, key in (
        ("STRATUS_HEADER_TIMEOUT", "header_timeout"),
        ("STRATUS_IDLE_CONNECTION_TIMEOUT", "idle_connection_timeout"),
        ("STRATUS_BODY_TIMEOUT", "body_timeout"),
    ):
        if name in env:
            kwargs[key] = float(env[name])
            if not kwargs[key] > 0:  # type: ignore[operator]
                raise ValueError(f"{name} must be a positive number of seconds")
    if "STRATUS_MAX_CONNECTIONS" in env:
        kwargs["max_connections"] = int(env["STRATUS_MAX_CONNECTIONS"])
        if not kwargs["max_connections"] >= 1:  # type: ignore[operator]
            raise ValueError("STRATUS_MAX_CONNECTIONS must be a positive number")
    kwargs["iam"] = iam_setting(env.get("STRATUS_IAM", "on"))
    if "STRATUS_ENV_CREDENTIAL_SECONDS" in env:
        kwargs["env_credential_seconds"] = int(env["STRATUS_ENV_CREDENTIAL_SECONDS"])
        if not kwargs["env_credential_seconds"] >= 4:  # type: ignore[operator]
            raise ValueError("STRATUS_ENV_CREDENTIAL_SECONDS must be at least 4")
    kwargs["record_limits"] = record_limits_setting(env)
    config = Config(data_dir=data_dir, host=host, port=port, **kwargs)  # type: ignore[arg-type]
    if not (len(config.account_id) == 12 and config.account_id.isdigit()):
        raise ValueError("STRATUS_ACCOUNT_ID must be 12 digits")
    return config


def load_credentials(data_dir: Path) -> Credentials:
    """Root credentials: the environment wins; else the stored pair; else a new stored pair."""
    key = os.environ.get("STRATUS_ACCESS_KEY_ID")
    secret = os.environ.get("STRATUS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret)
    path = data_dir / CREDENTIALS_FILE
    stored = read_stored_credentials(data_dir)
    if stored is not None:
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    alphabet = string.ascii_uppercase + string.digits
    creds = Credentials(
        "AKST" + "".join(secrets.choice(alphabet) for _ in range(16)),
        secrets.token_urlsafe(30)[:40],
        generated=True,
    )
    pair = {"AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key}
    write_private(path, json.dumps(pair).encode())
    return creds


def write_private(path: Path, data: bytes) -> None:
    """`data` as the file at `path`, mode 0600 from its creation, durable, and whole or not at
    all (a full disk leaves no half-written secret behind)."""
    tmp = path.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def read_stored_credentials(data_dir: Path) -> Credentials | None:
    path = data_dir / CREDENTIALS_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return Credentials(raw["AccessKeyId"], raw["SecretAccessKey"])


def max_pids_setting() -> int | None:
    """STRATUS_MAX_PIDS: how many processes and threads this instance's environments may hold
    together (unset: the host-wide limit, half of the host's pid and thread space, which also
    bounds all instances together)."""
    raw = os.environ.get("STRATUS_MAX_PIDS")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 16:
        raise ValueError(f"STRATUS_MAX_PIDS must be a whole number of at least 16, not {raw!r}")
    return value


def metrics_token_setting(token: str) -> str:
    """STRATUS_METRICS_TOKEN, the scrape's bearer token: long enough not to be guessed, since the
    scrape endpoint has no back-off of its own."""
    if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError(
            "STRATUS_METRICS_TOKEN must be at least 16 printable ASCII characters, without spaces"
        )
    return token
