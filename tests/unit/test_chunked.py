"""The aws-chunked decoder and payload digests (stratus/buckets/chunked.py), against AWS's own
documented example ("sigv4-streaming": PUT /examplebucket/chunkObject.txt, 64 KiB + 1 KiB of
'a') and bodies signed here by a reference encoder written from the same documentation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from datetime import UTC, datetime

import pytest

from stratus.buckets import chunked
from stratus.buckets.errors import BadDigest, IncompleteBody, InvalidRequest
from stratus.errors import InvalidSignature
from stratus.wire import sigv4
from stratus.wire.signing import Signing

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
STAMP = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
# AWS's example: the seed signature and the three chunk signatures it documents.
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
DOC_SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
S3 = Signing("s3")


def _key() -> bytes:
    key = ("AWS4" + SECRET).encode()
    for part in ("20130524", "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def stream_key(seed: str = SEED) -> sigv4.StreamKey:
    return sigv4.StreamKey(_key(), STAMP, SCOPE, seed)


def _hmac(text: str) -> str:
    return hmac.new(_key(), text.encode(), hashlib.sha256).hexdigest()


def encode_signed(
    chunks: list[bytes], seed: str = SEED, trailers: list[tuple[str, str]] | None = None
) -> bytes:
    """The reference encoder: each chunk signed as the documentation spells the string to
    sign, chained from `seed`; with `trailers`, the signed-trailer form."""
    empty = hashlib.sha256(b"").hexdigest()
    out, previous = [], seed
    for data in [*chunks, b""]:
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", STAMP, SCOPE, previous, empty, hashlib.sha256(data).hexdigest()]
        )
        previous = _hmac(to_sign)
        out.append(b"%x;chunk-signature=%s\r\n" % (len(data), previous.encode()))
        if data:
            out.append(data + b"\r\n")
    if trailers is None:
        out.append(b"\r\n")
        return b"".join(out)
    text = "".join(f"{n}:{v}\n" for n, v in trailers)
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256-TRAILER", STAMP, SCOPE, previous, hashlib.sha256(text.encode()).hexdigest()]
    )
    for n, v in trailers:
        out.append(f"{n}:{v}\r\n".encode())
    out.append(f"x-amz-trailer-signature:{_hmac(to_sign)}\r\n\r\n".encode())
    return b"".join(out)


def encode_unsigned(chunks: list[bytes], trailers: list[tuple[str, str]]) -> bytes:
    """As botocore's AwsChunkedWrapper writes STREAMING-UNSIGNED-PAYLOAD-TRAILER."""
    out = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks]
    out.append(b"0\r\n" + b"".join(f"{n}:{v}\r\n".encode() for n, v in trailers) + b"\r\n")
    return b"".join(out)


def decode(decoder: chunked.Decoder, body: bytes, step: int) -> bytes:
    """Feed `body` in pieces of `step` bytes (splitting headers, data and CRLFs anywhere)."""
    out = []
    for i in range(0, len(body), step):
        out.extend(decoder.feed(body[i : i + step]))
    decoder.finish()
    return b"".join(out)


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_the_documented_example_verifies_chunk_by_chunk() -> None:
    first = chunked.chunk_signature(stream_key(), SEED, hashlib.sha256(b"a" * 65536).hexdigest())
    assert first == DOC_SIGNATURES[0]
    body = encode_signed([b"a" * 65536, b"a" * 1024])
    assert DOC_SIGNATURES[2].encode() in body  # the reference encoder agrees with AWS's example
    for step in (1, 7, 8192, len(body)):
        decoder = chunked.Decoder(chunked.SIGNED, stream_key())
        assert decode(decoder, body, step) == b"a" * 66560
        assert decoder.size == 66560


def test_the_documented_seed_signature_is_verified_from_the_headers() -> None:
    req = sigv4.SignedRequest(
        method="PUT",
        raw_path="/examplebucket/chunkObject.txt",
        query=(),
        headers={
            "host": "s3.amazonaws.com",
            "x-amz-date": STAMP,
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "authorization": (
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"
            ),
            "x-amz-content-sha256": chunked.SIGNED,
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": "66560",
            "content-length": "66824",
        },
        body_sha256=chunked.SIGNED,
    )
    keys = sigv4.fixed_keys({"AKIAIOSFODNN7EXAMPLE": SECRET})
    identity, key = sigv4.verify_head(req, keys, datetime(2013, 5, 24, tzinfo=UTC), expect=S3)
    assert identity.service == "s3" and key.seed == SEED and key.scope == SCOPE
    body = encode_signed([b"a" * 65536, b"a" * 1024])
    assert len(body) == 66824  # the documented Content-Length
    assert decode(chunked.Decoder(chunked.SIGNED, key), body, 4096) == b"a" * 66560


def test_a_tampered_chunk_is_refused() -> None:
    body = bytearray(encode_signed([b"a" * 9000, b"b" * 100]))
    body[body.index(b"b")] = ord("c")
    with pytest.raises(InvalidSignature):
        decode(chunked.Decoder(chunked.SIGNED, stream_key()), bytes(body), 1000)


def test_chunks_signed_from_another_seed_or_reordered_are_refused() -> None:
    other = encode_signed([b"a" * 100], seed="0" * 64)
    with pytest.raises(InvalidSignature):
        decode(chunked.Decoder(chunked.SIGNED, stream_key()), other, 50)
    one = encode_signed([b"x" * 10, b"y" * 10])
    first_end = one.index(b"\r\n", one.index(b"x")) + 2
    second_end = one.index(b"\r\n", one.index(b"y")) + 2
    swapped = one[first_end:second_end] + one[:first_end] + one[second_end:]
    with pytest.raises(InvalidSignature):
        decode(chunked.Decoder(chunked.SIGNED, stream_key()), swapped, 5)


def test_a_body_cut_short_is_incomplete() -> None:
    body = encode_signed([b"a" * 100])
    decoder = chunked.Decoder(chunked.SIGNED, stream_key())
    decoder.feed(body[:80])
    with pytest.raises(IncompleteBody):
        decoder.finish()


def test_malformed_framing_is_refused() -> None:
    for bad in (b"zz;chunk-signature=" + b"0" * 64 + b"\r\n", b"5\r\nhello\r\n", b"a" * 5000):
        with pytest.raises(InvalidRequest):
            decode(chunked.Decoder(chunked.SIGNED, stream_key()), bad, 100)
    body = encode_signed([b"a" * 10]) + b"more"
    with pytest.raises(InvalidRequest):
        decode(chunked.Decoder(chunked.SIGNED, stream_key()), body, 3)


def test_unsigned_trailer_as_botocore_sends_it() -> None:
    data = [b"hello " * 1000, b"world"]
    whole = b"".join(data)
    body = encode_unsigned(data, [("x-amz-checksum-crc32", crc32_b64(whole))])
    decoder = chunked.Decoder(chunked.UNSIGNED_TRAILER, None)
    assert decode(decoder, body, 333) == whole
    assert decoder.trailers == {"x-amz-checksum-crc32": crc32_b64(whole)}
    digests = chunked.Digests(False, decoder.trailers)
    digests.update(whole)
    digests.verify(decoder.trailers)
    wrong = {"x-amz-checksum-crc32": crc32_b64(b"other")}
    with pytest.raises(BadDigest):
        digests.verify(wrong)


def test_signed_trailer_is_verified() -> None:
    trailer = [("x-amz-checksum-crc32", crc32_b64(b"abc"))]
    body = encode_signed([b"abc"], trailers=trailer)
    decoder = chunked.Decoder(chunked.SIGNED_TRAILER, stream_key())
    assert decode(decoder, body, 2) == b"abc"
    assert decoder.trailers == dict(trailer)
    forged = body.replace(crc32_b64(b"abc").encode(), crc32_b64(b"abd").encode())
    with pytest.raises(InvalidSignature):
        decode(chunked.Decoder(chunked.SIGNED_TRAILER, stream_key()), forged, 2)


def test_digests_compute_what_s3_writes() -> None:
    data = b"The quick brown fox"
    digests = chunked.Digests(True, chunked.VERIFIED)
    for i in range(0, len(data), 4):
        digests.update(data[i : i + 4])
    assert digests.sha256_hex() == hashlib.sha256(data).hexdigest()
    assert digests.computed() == {
        "x-amz-checksum-crc32": crc32_b64(data),
        "x-amz-checksum-sha1": base64.b64encode(hashlib.sha1(data).digest()).decode(),
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
    }
    # CRC32C cannot be computed here: it is stored as given, never refused.
    digests.verify({"x-amz-checksum-crc32c": "AAAAAA=="})
    with pytest.raises(BadDigest):
        digests.verify({"x-amz-checksum-sha1": base64.b64encode(hashlib.sha1(b"x").digest()).decode()})
