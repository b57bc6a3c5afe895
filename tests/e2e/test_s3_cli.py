"""The AWS CLI's high-level S3 commands (`aws s3 mb/cp/sync/ls/rm/rb`) and `aws s3api`
against a real `stratus serve` with --endpoint-url."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.e2e.conftest import Server


def test_aws_s3_cp_sync_ls_rm(server: Server, tmp_path: Path) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:10]}"
    server.aws("s3", "mb", f"s3://{bucket}")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40000)  # 10 MB: multipart by the CLI
    server.aws("s3", "cp", str(src / "a.txt"), f"s3://{bucket}/one/a.txt")
    server.aws("s3", "sync", str(src), f"s3://{bucket}/tree/")
    listed = server.aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout
    for key in ("one/a.txt", "tree/a.txt", "tree/sub/b.bin"):
        assert key in listed, listed
    top = server.aws("s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE one/" in top and "PRE tree/" in top
    back = tmp_path / "back"
    server.aws("s3", "sync", f"s3://{bucket}/tree/", str(back))
    assert (back / "a.txt").read_text() == "alpha"
    assert (back / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()
    again = server.aws("s3", "sync", str(src), f"s3://{bucket}/tree/").stdout
    assert "upload:" not in again  # nothing changed: sync compares sizes and times
    server.aws("s3", "cp", f"s3://{bucket}/one/a.txt", str(tmp_path / "a-copy.txt"))
    assert (tmp_path / "a-copy.txt").read_text() == "alpha"
    head = json.loads(
        server.aws(
            "--output", "json", "s3api", "head-object", "--bucket", bucket, "--key", "tree/sub/b.bin"
        ).stdout
    )
    assert head["ContentLength"] == 10240000 and "-" in head["ETag"]
    server.aws("s3", "rm", "--recursive", f"s3://{bucket}/")
    assert server.aws("s3", "ls", "--recursive", f"s3://{bucket}/", check=False).stdout.strip() == ""
    server.aws("s3", "rb", f"s3://{bucket}")
    assert bucket not in server.aws("s3", "ls").stdout
