"""botocore's service models, loaded once per process.

botocore ships the exact model of every AWS service (operations, shapes, traits, errors); the
protocol layer reads them rather than restating any shape by hand. The loader is botocore's
own (no boto3 Session: that would also read the user's AWS config and credentials files).
"""

from __future__ import annotations

import functools

from botocore.loaders import Loader, create_loader
from botocore.model import ServiceModel


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
