"""What SNS's handlers read."""

from __future__ import annotations

from dataclasses import dataclass

from stratus.topics.topics import Topics


@dataclass(frozen=True)
class SnsContext:
    topics: Topics
    account_id: str
