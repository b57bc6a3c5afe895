"""What the DynamoDB handlers read: the table store and the account."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratus.tables.tables import Tables


@dataclass(frozen=True)
class TablesContext:
    tables: Tables
    account_id: str
    # TransactWriteItems' ClientRequestTokens seen in the last 10 minutes (in memory: a
    # restart forgets them): token -> (the request's digest, when, the answer).
    tokens: dict[str, tuple[str, float, dict[str, Any]]] = field(default_factory=dict)
