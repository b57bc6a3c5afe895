"""botocore's service models, loaded once per process.

botocore ships the exact model of every AWS service (operations, shapes, traits, errors); the
protocol layer reads them rather than restating any shape by hand. The loader is botocore's
own (no boto3 Session: that would also read the user's AWS config and credentials files).
"""

from __future__ import annotations

import functools

from botocore.loaders import Loader, create_loader
from botocore.model import ServiceModel

from stratus.wire.legacy_query import LEGACY, overlaid


@functools.cache
def _loader() -> Loader:
    return create_loader()


@functools.cache
def service_model(name: str) -> ServiceModel:
    """The model of service `name` as botocore names it ("logs", "cloudwatch", "sts").

    Models that list several protocols (CloudWatch's "smithy-rpc-v2-cbor", "json", "query") are
    returned as they are: each protocol reads only what it needs (targetPrefix and jsonVersion
    for json, apiVersion and xmlNamespace for query), so one model serves every protocol."""
    return ServiceModel(_loader().load_service_model(name, "service-2"), service_name=name)


@functools.cache
def protocol_model(name: str, protocol: str) -> ServiceModel:
    """The model `protocol` reads and writes for service `name`: the service's own, except the
    query protocol of a service that has moved to JSON (SQS), whose query-era names are laid
    over the current model (`wire/legacy_query.py`)."""
    model = service_model(name)
    legacy = LEGACY.get(name)
    if protocol != "query" or legacy is None or "query" in (model.metadata.get("protocols") or ()):
        return model
    return ServiceModel(overlaid(_loader().load_service_model(name, "service-2"), legacy), service_name=name)
