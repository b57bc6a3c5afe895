"""How large a runtime's answer may be, and what is said when it is larger (pure).

Lambda caps a synchronous invocation's response at 6 MB: 6,291,556 bytes as its error message
states the figure, and a payload of exactly that many bytes still passes. The cap covers
everything a runtime answers with: a result, an error document and an init error. Past it the
caller gets a function error of type `Function.ResponseSizeTooLarge` (status 200,
`X-Amz-Function-Error: Unhandled`), and the runtime, if it is still listening, hears the Runtime
API's 413 `RequestEntityTooLarge`.

Why the server stops at the cap rather than after the body: an answer is the one thing an
environment sends that the server must hold whole, so without a bound reached while reading, any
function can make the server buffer as much as it can write (a 128 MB function sent 1 GB).
"""

from __future__ import annotations

import json

from stratus.invoke.records import MAX_RESPONSE_PAYLOAD

RESULT_LIMIT = MAX_RESPONSE_PAYLOAD
TOO_LARGE_TYPE = "Function.ResponseSizeTooLarge"
TOO_LARGE_MESSAGE = f"Response payload size exceeded maximum allowed payload size ({RESULT_LIMIT} bytes)."

# What the caller gets, byte for byte the same on every path.
TOO_LARGE_DOCUMENT = json.dumps({"errorMessage": TOO_LARGE_MESSAGE, "errorType": TOO_LARGE_TYPE}).encode()

# What the Runtime API answers the runtime that posted it (413).
REFUSAL_STATUS = 413
REFUSAL_DOCUMENT = {
    "errorMessage": f"Exceeded maximum allowed payload size ({RESULT_LIMIT} bytes).",
    "errorType": "RequestEntityTooLarge",
}


def over_limit(size: int) -> bool:
    """Whether an answer of `size` bytes (declared or counted so far) is refused."""
    return size > RESULT_LIMIT


def declared_over_limit(content_length: int | None) -> bool:
    """Whether a body is refused on its Content-Length alone, before any of it is read. A
    chunked body declares nothing and is counted as it arrives instead."""
    return content_length is not None and over_limit(content_length)
