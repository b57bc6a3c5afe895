"""CORS as function URLs and HTTP APIs apply it: preflights answered by the platform, and the
configured headers added to every response to an allowed origin (replacing the function's own)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

FIELDS = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders", "MaxAge")
LIST_FIELDS = ("AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders")
MAX_AGE_LIMIT = 86400
METHODS = ("GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "*")


@dataclass(frozen=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    @classmethod
    def from_pascal(cls, data: dict[str, Any] | None) -> Cors | None:
        """From the API's shape (function URLs use `AllowOrigins`, HTTP APIs `allowOrigins`),
        normalised to Pascal case by `validate`."""
        if not data:
            return None
        return cls(
            allow_origins=tuple(data.get("AllowOrigins", ())),
            allow_methods=tuple(m.upper() for m in data.get("AllowMethods", ())),
            allow_headers=tuple(h.lower() for h in data.get("AllowHeaders", ())),
            expose_headers=tuple(h.lower() for h in data.get("ExposeHeaders", ())),
            max_age=data.get("MaxAge"),
            allow_credentials=bool(data.get("AllowCredentials", False)),
        )

    def allows(self, origin: str) -> bool:
        for allowed in self.allow_origins:
            if allowed == "*" or allowed.lower() == origin.lower():
                return True
            if "*" in allowed and fnmatch.fnmatchcase(origin.lower(), allowed.lower()):
                return True
        return False

    def origin_header(self, origin: str) -> str:
        # With credentials a wildcard may not be echoed: browsers refuse it.
        if "*" in self.allow_origins and not self.allow_credentials:
            return "*"
        return origin


def validate(data: Any, *, camel: bool) -> dict[str, Any]:
    """Check a CORS configuration and return it in Pascal case; raises ValueError."""
    if not isinstance(data, dict):
        raise ValueError("CORS configuration must be an object")
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key[:1].upper() + key[1:] if camel else key
        if name not in FIELDS:
            raise ValueError(f"Unknown CORS field {key}")
        if name in LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ValueError(f"{key} must be a list of non-empty strings")
            if name == "AllowMethods" and any(v.upper() not in METHODS for v in value):
                raise ValueError(f"{key} may only hold HTTP methods or *")
        elif name == "MaxAge":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AGE_LIMIT:
                raise ValueError(f"{key} must be an integer from 0 to {MAX_AGE_LIMIT}")
        elif not isinstance(value, bool):
            raise ValueError(f"{key} must be a boolean")
        out[name] = value
    return out


def is_preflight(method: str, origin: str | None, request_method: str | None) -> bool:
    return method == "OPTIONS" and origin is not None and request_method is not None


def preflight_headers(cors: Cors, origin: str) -> list[tuple[str, str]]:
    if not cors.allows(origin):
        return []
    headers = [("access-control-allow-origin", cors.origin_header(origin))]
    if cors.allow_methods:
        headers.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("access-control-max-age", str(cors.max_age)))
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    return headers


def response_headers(cors: Cors, origin: str) -> list[tuple[str, str]]:
    if not cors.allows(origin):
        return []
    headers = [("access-control-allow-origin", cors.origin_header(origin))]
    if cors.expose_headers:
        headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        headers.append(("access-control-allow-credentials", "true"))
    headers.append(("vary", "Origin"))
    return headers


def apply(
    cors: Cors | None, origin: str | None, headers: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """The function's headers with the configured CORS headers in place of any of its own."""
    if cors is None or origin is None:
        return headers
    added = response_headers(cors, origin)
    if not added:
        return headers
    kept = tuple((k, v) for k, v in headers if not k.lower().startswith("access-control-"))
    return kept + tuple(added)
