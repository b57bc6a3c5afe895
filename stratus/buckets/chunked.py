"""The integrity of an S3 request body, checked as it streams: the aws-chunked decoder (each
chunk's signature verified, chained from the request's own signature) and the running digests
of the payload (x-amz-content-sha256, and the flexible checksums x-amz-checksum-*).

aws-chunked, as AWS documents it ("sigv4-streaming", "sigv4-streaming-trailers"):

    hex(size);chunk-signature=SIG\\r\\n DATA \\r\\n ... 0;chunk-signature=SIG\\r\\n [trailers] \\r\\n

where SIG = HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD\\n" + X-Amz-Date + "\\n" + scope + "\\n" +
previous signature + "\\n" + SHA256("") + "\\n" + SHA256(DATA)), the first previous signature
being the request's (the seed). The unsigned form (STREAMING-UNSIGNED-PAYLOAD-TRAILER, what
botocore sends over TLS) has no `;chunk-signature=`. Trailers are `name:value` lines; a signed
trailer ends with `x-amz-trailer-signature:SIG` over SHA256 of the other lines ("name:value\\n").

Pure (no I/O): the front feeds it what it reads, and stores only what it yields; nothing is
committed until `finish` has accepted the end of the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from stratus.buckets.errors import BadDigest, IncompleteBody, InvalidRequest
from stratus.errors import InvalidSignature
from stratus.wire.sigv4 import StreamKey

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MODES = (SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# A chunk header is a size, a signature and a little punctuation; a trailer line is a checksum.
MAX_LINE = 4096
MAX_TRAILERS = 16

# The flexible checksums, by header name: the parameter name boto3 gives them.
CHECKSUMS = {
    "x-amz-checksum-crc32": "ChecksumCRC32",
    "x-amz-checksum-crc32c": "ChecksumCRC32C",
    "x-amz-checksum-crc64nvme": "ChecksumCRC64NVME",
    "x-amz-checksum-sha1": "ChecksumSHA1",
    "x-amz-checksum-sha256": "ChecksumSHA256",
}
# Those computed here (zlib, hashlib); CRC32C and CRC64NVME have no implementation in the
# standard library and are stored as the client gave them.
VERIFIED = ("x-amz-checksum-crc32", "x-amz-checksum-sha1", "x-amz-checksum-sha256")

_SIZE, _DATA, _CRLF, _TRAILER, _DONE = range(5)


def _mismatch() -> InvalidSignature:
    return InvalidSignature(
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method. (A chunk of the aws-chunked body was not signed "
        "by the request's key.)"
    )


def _malformed(why: str) -> InvalidRequest:
    return InvalidRequest(f"The aws-chunked request body is malformed: {why}.")


def chunk_signature(key: StreamKey, previous: str, data_sha256: str) -> str:
    """The signature of one chunk whose data has the SHA-256 `data_sha256` (hex)."""
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256-PAYLOAD", key.stamp, key.scope, previous, EMPTY_SHA256, data_sha256]
    )
    return hmac.new(key.signing_key, to_sign.encode(), hashlib.sha256).hexdigest()


def trailer_signature(key: StreamKey, previous: str, trailers: Iterable[tuple[str, str]]) -> str:
    """The signature of the trailing headers (name, value), chained from the final chunk's."""
    text = "".join(f"{name}:{value}\n" for name, value in trailers)
    digest = hashlib.sha256(text.encode()).hexdigest()
    to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", key.stamp, key.scope, previous, digest])
    return hmac.new(key.signing_key, to_sign.encode(), hashlib.sha256).hexdigest()


class Decoder:
    """An incremental aws-chunked decoder: `feed` what arrives, get the payload's pieces back;
    `finish` at the end of the request, which raises unless the body ended where it should.
    A signed chunk's data is handed out before its signature (which follows the data) is
    checked, so the caller must commit nothing until `finish` returns."""

    def __init__(self, mode: str, key: StreamKey | None) -> None:
        if mode not in MODES:
            raise InvalidRequest(f"x-amz-content-sha256 '{mode}' is not a streaming mode S3 knows.")
        self._signed = mode in (SIGNED, SIGNED_TRAILER)
        if self._signed and key is None:
            raise ValueError("a signed aws-chunked body needs the request's stream key")
        self._key = key
        self._previous = key.seed if key is not None else ""
        self._trailers_signed = mode == SIGNED_TRAILER
        self._state = _SIZE
        self._line = bytearray()
        self._left = 0
        self._claimed = ""
        self._hash: Any = None
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_signature: str | None = None
        self.size = 0  # decoded bytes so far

    @property
    def trailers(self) -> dict[str, str]:
        """The trailing headers (lower-case names), once the body has ended."""
        return dict(self._trailer_lines)

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        pos, n = 0, len(data)
        while pos < n:
            if self._state == _DATA:
                take = min(self._left, n - pos)
                piece = data[pos : pos + take]
                pos += take
                self._left -= take
                self.size += take
                if self._hash is not None:
                    self._hash.update(piece)
                out.append(piece)
                if self._left == 0:
                    self._state = _CRLF
                continue
            if self._state == _DONE:
                raise _malformed("bytes follow the final chunk")
            end = data.find(b"\n", pos)
            if end < 0:
                self._line += data[pos:]
                pos = n
                if len(self._line) > MAX_LINE:
                    raise _malformed("a chunk header or trailer line is too long")
                continue
            self._line += data[pos : end + 1]
            pos = end + 1
            line = bytes(self._line)
            self._line.clear()
            if len(line) > MAX_LINE or not line.endswith(b"\r\n"):
                raise _malformed("lines must end with CRLF")
            self._on_line(line[:-2].decode("latin-1"))
        return out

    def finish(self) -> dict[str, str]:
        """The trailers, once the whole body has been fed; IncompleteBody if it stopped short."""
        if self._state != _DONE:
            raise IncompleteBody(
                "The request body terminated unexpectedly (an aws-chunked body without its final chunk)."
            )
        return self.trailers

    def _on_line(self, line: str) -> None:
        if self._state == _SIZE:
            self._on_size(line)
        elif self._state == _CRLF:
            if line:
                raise _malformed("a chunk's data is longer than its size")
            self._check_chunk()
            self._state = _SIZE
        elif self._state == _TRAILER:
            self._on_trailer(line)

    def _on_size(self, line: str) -> None:
        size_text, _, extension = line.partition(";")
        try:
            if not size_text or len(size_text) > 16:
                raise ValueError
            size = int(size_text, 16)
        except ValueError:
            raise _malformed(f"invalid chunk size {size_text[:20]!r}") from None
        if self._signed:
            name, eq, value = extension.partition("=")
            if name.strip() != "chunk-signature" or not eq or len(value.strip()) != 64:
                raise _malformed("a chunk has no chunk-signature")
            self._claimed = value.strip()
            self._hash = hashlib.sha256()
        if size == 0:
            self._check_chunk()
            self._state = _TRAILER
        else:
            self._left = size
            self._state = _DATA

    def _check_chunk(self) -> None:
        if not self._signed or self._key is None:
            return
        expected = chunk_signature(self._key, self._previous, self._hash.hexdigest())
        if not hmac.compare_digest(expected, self._claimed):
            raise _mismatch()
        self._previous = self._claimed

    def _on_trailer(self, line: str) -> None:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise _malformed("a trailer line has no ':'")
            name = name.strip().lower()
            if name == "x-amz-trailer-signature":
                self._trailer_signature = value.strip()
            else:
                if len(self._trailer_lines) >= MAX_TRAILERS:
                    raise _malformed("too many trailers")
                self._trailer_lines.append((name, value.strip()))
            return
        if self._trailers_signed and self._key is not None:
            claimed = self._trailer_signature or ""
            expected = trailer_signature(self._key, self._previous, self._trailer_lines)
            if not hmac.compare_digest(expected, claimed):
                raise _mismatch()
        elif self._trailer_signature is not None:
            raise _malformed("an unsigned body carries a trailer signature")
        self._state = _DONE


class Digests:
    """Running digests of a payload: its SHA-256 (when the signature covers it) and the
    flexible checksums it claims that can be computed here."""

    def __init__(self, sha256: bool, checksums: Iterable[str]) -> None:
        self._sha256 = hashlib.sha256() if sha256 else None
        wanted = set(checksums)
        self._crc32: int | None = 0 if "x-amz-checksum-crc32" in wanted else None
        self._sha1 = hashlib.sha1() if "x-amz-checksum-sha1" in wanted else None
        self._sha256_checksum = None
        if "x-amz-checksum-sha256" in wanted:
            self._sha256_checksum = self._sha256 or hashlib.sha256()

    def update(self, piece: bytes) -> None:
        if self._sha256 is not None:
            self._sha256.update(piece)
        elif self._sha256_checksum is not None:
            self._sha256_checksum.update(piece)
        if self._crc32 is not None:
            self._crc32 = zlib.crc32(piece, self._crc32)
        if self._sha1 is not None:
            self._sha1.update(piece)

    def sha256_hex(self) -> str:
        if self._sha256 is None:
            raise ValueError("the SHA-256 of this payload is not being computed")
        return self._sha256.hexdigest()

    def computed(self) -> dict[str, str]:
        """The checksums computed, by header name, base64 as S3 writes them."""
        out: dict[str, str] = {}
        if self._crc32 is not None:
            out["x-amz-checksum-crc32"] = base64.b64encode(self._crc32.to_bytes(4, "big")).decode()
        if self._sha1 is not None:
            out["x-amz-checksum-sha1"] = base64.b64encode(self._sha1.digest()).decode()
        if self._sha256_checksum is not None:
            out["x-amz-checksum-sha256"] = base64.b64encode(self._sha256_checksum.digest()).decode()
        return out

    def verify(self, claimed: Mapping[str, str]) -> None:
        """BadDigest unless each claimed checksum that can be computed here matches."""
        computed = self.computed()
        for name, value in claimed.items():
            mine = computed.get(name)
            if mine is not None and mine != value.strip():
                kind = name.rsplit("-", 1)[-1].upper()
                raise BadDigest(f"The {kind} you specified did not match the calculated checksum.")


def checksum_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The flexible checksums a request's headers claim, by header name."""
    return {name: headers[name] for name in CHECKSUMS if name in headers}
