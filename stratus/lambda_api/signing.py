"""How Lambda's API is reached and signed: its dated path prefixes, signed for "lambda". None
of its operations may be presigned (function URLs, which may, declare their own in
httpapi/front.py). Its own module, since both the declaration and Invoke's lean path use it."""

from __future__ import annotations

from stratus.wire.signing import Signing

SIGNING = Signing(
    "lambda",
    # Every dated prefix of botocore's model (tests/unit/test_lambda_paths.py holds them equal), so
    # an operation Stratus does not serve is answered as unsupported, not as an unknown path.
    paths=(
        "/2014-11-13/",
        "/2015-03-31/",
        "/2016-08-19/",
        "/2017-03-31/",
        "/2017-10-31/",
        "/2018-10-31/",
        "/2019-09-25/",
        "/2019-09-30/",
        "/2020-04-22/",
        "/2020-06-30/",
        "/2021-07-20/",
        "/2021-10-31/",
        "/2021-11-15/",
        "/2024-08-31/",
        "/2025-11-30/",
        "/2025-12-01/",
        "/2026-07-09/",
    ),
)
