"""Where the observability data of before regions goes: each region is its own namespace now
(log groups, metrics, HTTP APIs), and a data dir written when everything was one namespace
names no region. Each name goes to the region its function lives in, else to the default
region, us-east-1 (a log group made by CreateLogGroup, no function's). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from stratus.control.keys import DEFAULT_REGION


def place(names: Iterable[str], homes: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each of `names` -> its region: the one a (name, region) pair of `homes` gives it, else
    DEFAULT_REGION. Where several regions claim a name (two migrated functions in different
    regions sharing a LoggingConfig group) the first in order wins, so that every start decides
    the same; the data of one namespace cannot be split after the fact."""
    known: dict[str, str] = {}
    for name, region in sorted(homes):
        known.setdefault(name, region)
    return {name: known.get(name, DEFAULT_REGION) for name in names}
