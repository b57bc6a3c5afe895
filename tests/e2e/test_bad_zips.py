"""Hostile deployment packages against the real server: every one is refused with
InvalidParameterValueException by CreateFunction and UpdateFunctionCode, nothing is left in the
code store, and the server keeps serving. Also: temporary files of an interrupted upload are
swept at start, and a client that hangs up mid-upload leaves nothing behind."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, ROLE, SECRET_KEY, Server, create, error_code
from tests.unit.test_codestore import HOSTILE_PACKAGES, make_zip, raw_entry

APP = {"app.py": "def handler(event, context):\n    return {'ok': True}\n"}


def slip_packages() -> dict[str, Callable[[], bytes]]:
    app = ("app.py", b"def handler(e, c):\n    return 1\n")
    return {
        "zip-slip-dotdot": lambda: make_zip([app, ("../../../../tmp/stratus-slip.py", b"x")]),
        "zip-slip-absolute": lambda: make_zip([app, ("/tmp/stratus-slip.py", b"x")]),
        "symlink-outside": lambda: make_zip([app, raw_entry("etc", b"/etc", stat.S_IFLNK | 0o777)]),
        "symlink-then-write-through": lambda: make_zip(
            [app, raw_entry("out", b"/tmp", stat.S_IFLNK | 0o777), ("out/stratus-slip.py", b"x")]
        ),
    }


# The heaviest of the unit set (a 100,001-entry zip) stays in the unit tests.
PACKAGES = {
    **{name: make for name, make in HOSTILE_PACKAGES.items() if name != "too-many-entries"},
    **slip_packages(),
}


def code_files(server: Server) -> list[tuple[str, int]]:
    """Every file and directory under the data dir's code/, with file sizes."""
    root = server.data_dir / "code"
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            found.append((str(path.relative_to(root)), path.stat().st_size if path.is_file() else 0))
    return sorted(found)


@pytest.fixture(scope="module")
def existing(server: Server) -> str:
    lam = server.client("lambda")
    name = "bad-zips-existing"
    create(lam, name, APP)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_hostile_zip_is_refused_and_leaves_nothing(server: Server, existing: str, name: str) -> None:
    lam = server.client("lambda")
    package = PACKAGES[name]()
    before = code_files(server)
    with pytest.raises(ClientError) as created:
        lam.create_function(
            FunctionName=f"bad-zip-{abs(hash(name)) % 10**8}",
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": package},
        )
    assert error_code(created) == "InvalidParameterValueException", created.value.response
    message = created.value.response["Error"]["Message"]
    assert message.startswith(("Could not unzip", "Unzipped size")), message
    with pytest.raises(ClientError) as updated:
        lam.update_function_code(FunctionName=existing, ZipFile=package)
    assert error_code(updated) == "InvalidParameterValueException", updated.value.response
    assert code_files(server) == before, "no orphan zip, tree or temporary file"
    assert not Path("/tmp/stratus-slip.py").exists()
    # Still serving, and the function keeps its code.
    assert lam.invoke(FunctionName=existing)["Payload"].read() == b'{"ok": true}'


def test_killed_upload_leaves_no_temp_file(server: Server, existing: str) -> None:
    lam = server.client("lambda")
    # A 16 MB CreateFunction body, signed as boto3 would sign it, of which half is sent.
    body = b'{"FunctionName": "killed-upload", "Runtime": "python3.11", "Role": "%s", ' % ROLE.encode()
    body += b'"Handler": "app.handler", "Code": {"ZipFile": "' + b"A" * (16 * 1024 * 1024) + b'"}}'
    url = f"{server.endpoint}/2015-03-31/functions"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
    prepared = request.prepare()
    before = code_files(server)
    everything_before = set(server.data_dir.rglob("*"))
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        head = ["POST /2015-03-31/functions HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
        head += [f"{k}: {v}" for k, v in prepared.headers.items() if k.lower() != "host"]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sock.sendall(body[: len(body) // 2])
    # The server noticed and carries on; nothing of the half upload stays.
    assert "Functions" in lam.list_functions()
    assert lam.invoke(FunctionName=existing)["StatusCode"] == 200
    assert code_files(server) == before
    new = [p for p in server.data_dir.rglob("*") if p not in everything_before and p.is_file()]
    assert [p for p in new if p.stat().st_size > 1 << 20] == []
    with pytest.raises(ClientError) as missing:
        lam.get_function(FunctionName="killed-upload")
    assert error_code(missing) == "ResourceNotFoundException"


def test_temp_files_of_a_crashed_upload_are_swept_at_start(fresh_server: Any, tmp_path: Path) -> None:
    code = tmp_path / "data0" / "code"  # the data dir fresh_server gives its first server
    (code / "zips").mkdir(parents=True)
    (code / "trees" / ".extract-crashed" / "lib").mkdir(parents=True)
    stale_zip = code / "zips" / ".upload-crashed"
    stale_zip.write_bytes(b"\0" * (16 * 1024 * 1024))
    (code / "trees" / ".extract-crashed" / "lib" / "m.py").write_bytes(b"x")
    srv = fresh_server()
    assert srv.data_dir == tmp_path / "data0"
    assert not stale_zip.exists()
    assert not (code / "trees" / ".extract-crashed").exists()
    # And the store works as before.
    lam = srv.client("lambda")
    create(lam, "after-sweep", APP)
    lam.get_waiter("function_active_v2").wait(FunctionName="after-sweep")
    assert lam.invoke(FunctionName="after-sweep")["Payload"].read() == b'{"ok": true}'
