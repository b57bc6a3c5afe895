"""Lambda's API is reached by every dated path prefix its model has."""

from stratus.lambda_api.signing import SIGNING
from stratus.wire.models import service_model


def test_every_dated_prefix_of_the_model_reaches_lambda() -> None:
    model = service_model("lambda")
    prefixes = {
        "/" + model.operation_model(o).http["requestUri"].split("/")[1] + "/" for o in model.operation_names
    }
    assert set(SIGNING.paths) == prefixes
