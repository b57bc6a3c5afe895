"""Queue names and URLs as SQS reads them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from stratus.queues.errors import InvalidParameterValue, QueueDoesNotExist

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_NAME = 80


def check_name(name: str, fifo: bool) -> None:
    """SQS's rule: up to 80 characters of alphanumerics, hyphens and underscores; a FIFO
    queue's name ends in `.fifo` (counted in the 80), and only a FIFO queue's does."""
    stem = name[: -len(".fifo")] if name.endswith(".fifo") else name
    if len(name) > MAX_NAME or not _NAME.match(stem):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    if fifo and not name.endswith(".fifo"):
        raise InvalidParameterValue(
            "The name of a FIFO queue can only include alphanumeric characters, "
            "hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
        )
    if not fifo and name.endswith(".fifo"):
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def queue_url(endpoint: str, account_id: str, name: str) -> str:
    return f"{endpoint.rstrip('/')}/{account_id}/{name}"


def parse_url(url: str) -> tuple[str, str]:
    """(account, name) of a QueueUrl: its last two path segments, whatever its host (clients
    reach this server by many names)."""
    path = urlsplit(url).path if "://" in url else url
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2:
        raise QueueDoesNotExist()
    return parts[-2], parts[-1]
