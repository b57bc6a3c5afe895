"""The one place where errors become wire responses, and small response helpers."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from aiohttp import web

from stratus.errors import DiskFull, ServiceError, StratusError
from stratus.store.diskfull import disk_full_error, is_disk_full, warning_due

log = logging.getLogger("stratus.gateway")


def json_response(
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type=content_type,
        headers=headers,
    )


def error_parts(error: StratusError) -> tuple[int, dict[str, str], bytes]:
    """AWS's error shape, readable by both the REST-JSON and the JSON protocol parsers:
    (status, headers besides Content-Type, body)."""
    if isinstance(error, DiskFull):
        _DiskFullNotice.note(error)
    body: dict[str, Any] = {
        "__type": error.code,
        "Type": "User" if error.sender_fault else "Service",
        "message": error.message,
        **error.extra,
    }
    headers = {"x-amzn-ErrorType": error.code}
    if error.status == 429:
        headers["Retry-After"] = "1"
    return error.status, headers, json.dumps(body).encode()


def error_response(error: StratusError) -> web.Response:
    status, headers, body = error_parts(error)
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


class _DiskFullNotice:
    """One warning a minute while writes are refused for a full disk: the log may be on it."""

    last: float | None = None

    @classmethod
    def note(cls, exc: BaseException) -> None:
        now = time.monotonic()
        if warning_due(cls.last, now, 60.0):
            cls.last = now
            log.warning("a write was refused: the data disk is full (%s)", exc.__cause__ or exc)


def incident_error(exc: BaseException) -> ServiceError:
    """What a client hears of an unexpected exception: a code and an incident id to look up in
    the server's log, never a traceback. A full data disk is no incident: any write that met
    one (a raw ENOSPC, EDQUOT or SQLITE_FULL) answers `DiskFull`, which says so."""
    if is_disk_full(exc):
        _DiskFullNotice.note(exc)
        return disk_full_error(exc)
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error (incident %s)", incident, exc_info=exc)
    return ServiceError(f"An internal error occurred (incident {incident}); see the server log.")


def unexpected_error_response(exc: BaseException) -> web.Response:
    return error_response(incident_error(exc))

