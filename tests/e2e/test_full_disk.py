"""Issue 12 item 4: a full data disk must not kill the server.

The data dir is put on a tmpfs of a few MB, which is then filled with a file, and the real
server is attacked: writes must be refused with a clear error (never an incident or a bare
500), invokes go on, a flood of logs is dropped and counted instead of ending the server, the
server starts again on the still-full disk, and once space returns writes work and nothing that
was stored before is lost.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, create

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")

DISK_MB = 8
SECRET = "kept-through-the-full-disk"
HANDLER = """
import os

def handler(event, context):
    for i in range(event.get("lines", 0)):
        print(f"flood {i} " + "x" * 1000)
    if "marker" in event:
        print(event["marker"])
    return {"secret": os.environ.get("SECRET"), "n": event.get("n")}
"""

LAYERED = """
import helper

def handler(event, context):
    return {"helper": helper.VALUE}
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, list[Server]]]:
    """A tmpfs of a few MB as the data dir (the server's own log stays outside it); the
    servers a test starts are stopped before it is unmounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)], check=True)
    servers: list[Server] = []
    try:
        yield mount, servers
    finally:
        for srv in servers:
            if srv.proc is not None and srv.proc.poll() is None:
                with contextlib.suppress(Exception):
                    srv.stop()
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path, leave: int = 0) -> None:
    """Write `path` until the filesystem has at most `leave` bytes free (0: until ENOSPC)."""
    chunk = os.urandom(1 << 16)
    try:
        f = open(path, "ab", buffering=0)  # noqa: SIM115 (closed below; unbuffered: close has nothing to flush)
    except OSError as e:  # so full that not even a new name fits: already filled
        assert e.errno == errno.ENOSPC
        return
    with f:
        while True:
            free = _free(path.parent)
            size = len(chunk) if leave == 0 else min(len(chunk), free - leave)
            if size <= 0:
                return
            try:
                f.write(chunk[:size])
            except OSError as e:
                assert e.errno == errno.ENOSPC
                return


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def incompressible_code() -> dict[str, str | bytes]:
    return {"app.py": HANDLER, "blob.bin": os.urandom(300 * 1024)}


def assert_disk_full(error: ClientError) -> None:
    """The clear error: Lambda's code for its own failures, a message naming the disk."""
    response = error.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500, response
    assert response["Error"]["Code"] == "ServiceException", response
    message = response["Error"]["Message"]
    assert "data disk is full" in message and "No space left on device" in message, message
    assert "incident" not in message


def invoke(lam: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert out["StatusCode"] == 200 and "FunctionError" not in out, out
    return json.loads(out["Payload"].read())  # type: ignore[no-any-return]


def scrape(srv: Server) -> str:
    """/_stratus/metrics, signed (accepted whether or not the scrape requires it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=srv.endpoint + "/_stratus/metrics")
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
    req = urllib.request.Request(request.url, headers=dict(request.headers.items()))
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()  # type: ignore[no-any-return]


def dropped_logs(srv: Server) -> float:
    for line in scrape(srv).splitlines():
        if line.startswith('stratus_telemetry_dropped_total{kind="logs"}'):
            return float(line.split()[-1])
    raise AssertionError('no stratus_telemetry_dropped_total{kind="logs"} in the scrape')


def alive(srv: Server) -> bool:
    assert srv.proc is not None
    if srv.proc.poll() is not None:
        return False
    with urllib.request.urlopen(srv.endpoint + "/_stratus/health", timeout=10) as r:
        return r.status == 200


def test_a_full_disk_refuses_writes_clearly_and_the_server_lives_on(
    small_disk: tuple[Path, list[Server]],
) -> None:
    disk, servers = small_disk
    srv = Server(disk)
    servers.append(srv.start())
    lam = srv.client("lambda")
    env = {"Variables": {"SECRET": SECRET}}
    create(lam, "keeper", {"app.py": HANDLER}, Environment=env, MemorySize=128)
    create(lam, "cold", {"app.py": HANDLER}, Environment=env, MemorySize=256)  # first run: full
    layer = lam.publish_layer_version(
        LayerName="helpers", Content={"ZipFile": _zip({"python/helper.py": "VALUE = 42\n"})}
    )["LayerVersionArn"]
    create(lam, "layered", {"app.py": LAYERED}, Layers=[layer])  # its first run too
    assert invoke(lam, "keeper", {"n": 1}) == {"secret": SECRET, "n": 1}

    # Nearly full: functions are created until the disk refuses one, each refusal the clear error.
    fill(disk / "ballast-1", leave=1 << 20)
    created, refused = ["keeper", "cold", "layered"], 0
    for i in range(12):
        name = f"fill-{i}"
        try:
            create(lam, name, incompressible_code(), Environment=env)
            created.append(name)
        except ClientError as e:
            assert_disk_full(e)
            refused += 1
    assert refused > 0, "the disk never filled"
    fill(disk / "ballast-2")  # now quite full
    with pytest.raises(ClientError) as err:
        create(lam, f"late-{uuid.uuid4().hex[:6]}", incompressible_code())
    assert_disk_full(err.value)
    with pytest.raises(ClientError) as err:
        lam.update_function_code(FunctionName="keeper", ZipFile=_zip(incompressible_code()))
    assert_disk_full(err.value)
    # An Event invoke's durable accept is a write too: refused, not crashed.
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName="keeper", InvocationType="Event", Payload=json.dumps({"pad": "y" * 200_000}))
    assert_disk_full(err.value)
    # No partial state: the registry holds exactly what was acknowledged.
    listed = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert listed == set(created)
    assert lam.get_function(FunctionName="keeper")["Configuration"]["CodeSize"] < 100_000

    # Invokes need no space: warm, and a cold start of a function never run before.
    for n in range(5):
        assert invoke(lam, "keeper", {"n": n}) == {"secret": SECRET, "n": n}
    assert invoke(lam, "cold", {"n": 7}) == {"secret": SECRET, "n": 7}
    assert invoke(lam, "layered", {}) == {"helper": 42}  # its layer, merged at deploy, at /opt
    with pytest.raises(ClientError) as err:
        lam.publish_layer_version(LayerName="more", Content={"ZipFile": _zip(incompressible_code())})
    assert_disk_full(err.value)

    # A flood of logs on the full disk: dropped and counted; the server stays up.
    before = dropped_logs(srv)
    for n in range(3):
        assert invoke(lam, "keeper", {"lines": 2000, "n": n})["n"] == n
    assert alive(srv)
    _wait_for(lambda: dropped_logs(srv) > before, "the dropped-logs counter to rise")
    assert alive(srv)
    assert invoke(lam, "keeper", {"n": 9})["n"] == 9

    # A restart on the still-full disk: it starts, serves reads and invokes.
    assert srv.stop() == 0, srv.output()
    assert _free(disk) < 64 * 1024
    srv = Server(disk)
    servers.append(srv.start())
    lam = srv.client("lambda")
    assert {f["FunctionName"] for f in lam.list_functions()["Functions"]} == set(created)
    assert invoke(lam, "keeper", {"n": 10}) == {"secret": SECRET, "n": 10}
    with pytest.raises(ClientError) as err:
        create(lam, f"late-{uuid.uuid4().hex[:6]}", incompressible_code())
    assert_disk_full(err.value)

    # A disk that filled while the server was down: stopped with space, its databases were
    # checkpointed and their WAL and index files removed; a start must not need them back.
    (disk / "ballast-1").unlink()
    assert srv.stop() == 0, srv.output()
    fill(disk / "ballast-1")
    assert _free(disk) < 64 * 1024
    srv = Server(disk)
    servers.append(srv.start())
    lam = srv.client("lambda")
    assert {f["FunctionName"] for f in lam.list_functions()["Functions"]} == set(created)
    assert invoke(lam, "keeper", {"n": 11}) == {"secret": SECRET, "n": 11}
    assert lam.get_function_configuration(FunctionName="cold")["Environment"]["Variables"] == {
        "SECRET": SECRET
    }

    # Space returns: writes work again, logs are stored again, and nothing stored was lost.
    (disk / "ballast-1").unlink()
    (disk / "ballast-2").unlink()
    create(lam, "after", {"app.py": HANDLER}, Environment=env)
    lam.update_function_code(FunctionName="keeper", ZipFile=_zip({"app.py": HANDLER, "v2.txt": "2"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="keeper")
    assert lam.invoke(FunctionName="after", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    marker = f"marker-{uuid.uuid4().hex}"
    assert invoke(lam, "after", {"marker": marker}) == {"secret": SECRET, "n": None}
    logs = srv.client("logs")
    _wait_for(
        lambda: bool(
            logs.filter_log_events(logGroupName="/aws/lambda/after", filterPattern=f'"{marker}"')["events"]
        ),
        "the marker line to be stored",
    )
    assert {f["FunctionName"] for f in lam.list_functions()["Functions"]} == {*created, "after"}
    for name in created:
        expected = {"helper": 42} if name == "layered" else {"secret": SECRET, "n": 1}
        assert invoke(lam, name, {"n": 1}) == expected
    assert alive(srv)

    # No orphan of a refused upload: no temporary files, and no zip without its tree.
    code = disk / "code"
    assert not [p for p in code.rglob(".upload-*")] and not [p for p in code.rglob(".extract-*")]
    zips = {p.name.removesuffix(".zip") for p in (code / "zips").iterdir()}
    trees = {p.name for p in (code / "trees").iterdir()}
    assert zips == trees


def _zip(files: dict[str, str | bytes]) -> bytes:
    from tests.e2e.conftest import make_zip

    return make_zip(files)


def _wait_for(condition: Any, what: str, attempts: int = 300) -> None:
    import time

    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"waited in vain for {what}")


def test_a_full_disk_refuses_an_object_and_keeps_what_is_stored(
    small_disk: tuple[Path, list[Server]],
) -> None:
    """S3 on a full disk: a PUT is refused with a clear error, nothing half-written is left
    visible, stored objects still read back, and once there is space PUTs work again."""
    disk, servers = small_disk
    srv = Server(disk)
    servers.append(srv.start())
    s3 = srv.client("s3", signature_version="s3v4")
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="before", Body=b"stored before the disk filled")
    fill(disk / "ballast")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="kept", Key="big", Body=os.urandom(2 * 1024 * 1024))
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500, response
    assert "data disk is full" in response["Error"]["Message"], response
    assert "incident" not in response["Error"]["Message"]
    assert s3.get_object(Bucket="kept", Key="before")["Body"].read() == b"stored before the disk filled"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="kept")["Contents"]] == ["before"]
    assert alive(srv)
    (disk / "ballast").unlink()
    s3.put_object(Bucket="kept", Key="after", Body=b"room again")
    assert s3.get_object(Bucket="kept", Key="after")["Body"].read() == b"room again"
