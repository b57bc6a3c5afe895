"""The thumbnails example (examples/thumbnails): built by its own build.py (Pillow vendored from
PyPI), deployed with boto3 as its README does with the CLI; an image uploaded to the source
bucket comes back as a thumbnail in the other bucket."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server
from tests.e2e.s3_notify_helpers import ACCOUNT, lambda_config, s3_role, unique

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "thumbnails"


def png(width: int, height: int) -> bytes:
    """An RGB PNG (a gradient), written by hand: the test process has no Pillow."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 128))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def thumbnails_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("thumbs") / "thumbnails.zip"
    built = subprocess.run(
        [sys.executable, str(EXAMPLE / "build.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0:
        pytest.skip(f"Pillow could not be installed from PyPI here: {built.stderr.strip()[-500:]}")
    return out.read_bytes()


def test_an_upload_makes_a_thumbnail(server: Server, thumbnails_zip: bytes) -> None:
    s3, lam = server.client("s3"), server.client("lambda")
    photos, thumbs = unique("photos"), unique("thumbs")
    s3.create_bucket(Bucket=photos)
    s3.create_bucket(Bucket=thumbs)
    name = unique("thumbnails")
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"  # what build.py built for
    arn = lam.create_function(
        FunctionName=name,
        Runtime=python,
        Role=s3_role(server, read=photos, write=thumbs),
        Handler="app.handler",
        Code={"ZipFile": thumbnails_zip},
        MemorySize=256,
        Timeout=30,
        Environment={"Variables": {"THUMBNAIL_BUCKET": thumbs}},
    )["FunctionArn"]
    lam.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{photos}",
        SourceAccount=ACCOUNT,
    )
    assert arn.startswith(f"arn:aws:lambda:{REGION}:")
    s3.put_bucket_notification_configuration(
        Bucket=photos,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [lambda_config(arn, ["s3:ObjectCreated:*"], prefix="uploads/")]
        },
    )
    s3.put_object(Bucket=photos, Key="uploads/my cat.png", Body=png(640, 480), ContentType="image/png")

    thumb = wait_object(s3, thumbs, "thumbs/uploads/my cat.png")
    assert png_size(thumb["Body"].read()) == (128, 96)  # fits 128x128, aspect ratio kept
    assert thumb["ContentType"] == "image/png"
    assert thumb["Metadata"]["source"] == f"{photos}/uploads/my cat.png"


def wait_object(s3: Any, bucket: str, key: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return dict(s3.get_object(Bucket=bucket, Key=key))
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchKey" or time.monotonic() > deadline:
                raise
        time.sleep(0.3)
