"""Thumbnails: an object written to the source bucket triggers this function, which reads it
with boto3 (the function's role's credentials), makes a thumbnail with Pillow and writes it to
the bucket named by THUMBNAIL_BUCKET. Written exactly as for AWS Lambda."""

import io
import os
from urllib.parse import unquote_plus

import boto3
from PIL import Image, UnidentifiedImageError

s3 = boto3.client("s3")
SIZE = (int(os.environ.get("THUMBNAIL_SIZE", "128")),) * 2


def thumbnail_key(key):
    stem = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
    return f"thumbs/{stem}.png"


def handler(event, context):
    made = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])  # keys arrive URL-encoded
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            image = Image.open(io.BytesIO(data))
            image.thumbnail(SIZE)  # keeps the aspect ratio
        except UnidentifiedImageError:
            print(f"skipped {bucket}/{key}: not an image")
            continue
        out = io.BytesIO()
        image.save(out, format="PNG")
        target = thumbnail_key(key)
        s3.put_object(
            Bucket=os.environ["THUMBNAIL_BUCKET"],
            Key=target,
            Body=out.getvalue(),
            ContentType="image/png",
            Metadata={"source": f"{bucket}/{key}", "size": f"{image.width}x{image.height}"},
        )
        print(f"{bucket}/{key} -> {target} ({image.width}x{image.height})")
        made.append(target)
    return {"thumbnails": made}
