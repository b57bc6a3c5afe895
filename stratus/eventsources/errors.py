"""The mapping API's own errors, beside stratus/errors.py's shared ones."""

from __future__ import annotations

from stratus.errors import ClientError


class ResourceInUse(ClientError):
    """An update or delete of a mapping another change is still settling (Lambda's model: "you
    tried to update an event source mapping in the CREATING state")."""

    code = "ResourceInUseException"
