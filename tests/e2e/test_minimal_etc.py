"""Environments see a minimal /etc, as Lambda's image has, not the host's.

The attack: a function walks /etc and tries to read the host's secrets (shadow, ssh keys,
machine-id) and a canary file this test writes into the host's /etc before the server starts.
None of it is there; what functions legitimately need (their own user name, localhost, CA
certificates, the dynamic linker's cache) still works.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, create
from tests.e2e.test_invoke import invoke, ok

APP = r'''
import json, os, pwd, grp, socket, ssl


def read(path):
    try:
        with open(path, "rb") as f:
            return {"ok": True, "size": len(f.read())}
    except OSError as e:
        return {"ok": False, "errno": e.errno}


def handler(event, context):
    listing = []
    for top, dirs, files in os.walk("/etc", followlinks=False):
        for name in dirs + files:
            listing.append(os.path.join(top, name))
    user = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(os.getgid())
    context_ = ssl.create_default_context()
    try:
        with open("/etc/passwd", "a") as f:
            f.write("evil::0:0::/:/bin/sh\n")
        wrote = True
    except OSError as e:
        wrote = e.errno
    return {
        "listing": sorted(listing),
        "uid": os.getuid(),
        "user": [user.pw_name, user.pw_uid, user.pw_dir],
        "group": [group.gr_name, group.gr_gid],
        "localhost": sorted({a[4][0] for a in socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)}),
        "service": socket.getservbyname("https", "tcp"),
        "ca_certs": context_.cert_store_stats()["x509_ca"],
        "resolv": open("/etc/resolv.conf").read() if os.path.exists("/etc/resolv.conf") else None,
        "wrote_passwd": wrote,
        "reads": {p: read(p) for p in event["paths"]},
    }
'''

# What the minimal /etc may hold at its top level (each only where the host has it).
ALLOWED_TOP = {
    "passwd", "group", "hosts", "nsswitch.conf", "resolv.conf", "ld.so.cache", "ld.so.conf",
    "ld.so.conf.d", "services", "protocols", "timezone", "mime.types", "ssl", "pki", "localtime",
    "os-release", "mtab", "alternatives", "java",
}


def linux_only(server: Server) -> None:
    if "isolation:         linux" not in server.output():
        pytest.skip("the minimal /etc is part of full isolation")


@pytest.fixture
def canary() -> Iterator[Path]:
    """A file in the host's /etc that no environment may see (written before the server starts,
    so that a template root made from the host's /etc would hold it)."""
    path = Path("/etc") / f"stratus-canary-{uuid.uuid4().hex[:8]}"
    try:
        path.write_text("host secret\n")
    except PermissionError:
        pytest.skip("needs root to write into the host's /etc")
    yield path
    path.unlink(missing_ok=True)


def test_environment_sees_a_minimal_etc(fresh_server: Any, canary: Path) -> None:
    server = fresh_server()
    linux_only(server)
    lam = server.client("lambda")
    name = f"etc-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": APP})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    secrets = ["/etc/shadow", "/etc/gshadow", "/etc/machine-id", "/etc/ssh/ssh_host_rsa_key",
               "/etc/ssl/private/ssl-cert-snakeoil.key", "/etc/sudoers", str(canary)]
    out = ok(*invoke(lam, name, {"paths": [*secrets, "/etc/ld.so.cache", "/etc/hosts"]}))

    # Nothing of the host's /etc beyond the list; no secret readable, the canary absent.
    tops = {p.split("/")[2] for p in out["listing"]}
    assert tops <= ALLOWED_TOP | {t for t in tops if t.startswith("java-")}, sorted(tops - ALLOWED_TOP)
    assert canary.name not in tops
    for path in secrets:
        assert out["reads"][path]["ok"] is False, (path, out["reads"][path])
        assert path not in out["listing"], path
    assert not any(p.startswith(("/etc/ssh", "/etc/ssl/private")) for p in out["listing"])
    # The dynamic linker's cache and the localhost lines are there; /etc is read-only.
    assert out["reads"]["/etc/ld.so.cache"]["ok"] and out["reads"]["/etc/hosts"]["ok"]
    assert out["wrote_passwd"] != True  # noqa: E712 (an errno when refused)

    # What functions need works: their own user, localhost, services, CA certificates, DNS set-up.
    assert out["user"] == ["sbx_user1051", out["uid"], "/home/sbx_user1051"], out["user"]
    assert out["group"] == ["sbx_user1051", out["uid"]], out["group"]
    assert set(out["localhost"]) & {"127.0.0.1", "::1"}, out["localhost"]
    assert out["service"] == 443
    assert out["ca_certs"] > 0
    if os.path.isfile("/etc/resolv.conf"):
        assert out["resolv"] == Path("/etc/resolv.conf").read_text()


SNAP_APP = r'''
import os, pwd

def handler(event, context):
    return {"uid": os.getuid(), "user": pwd.getpwuid(os.getuid()).pw_name,
            "init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")}
'''


def test_snapshot_environments_have_a_user_name_too(server: Server, lam: Any) -> None:
    """Environments forked from a snapshot template run as a uid of the template's namespace;
    their /etc/passwd names it as well."""
    linux_only(server)
    name = f"etcsnap-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": SNAP_APP}, SnapStart={"ApplyOn": "PublishedVersions"})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    version = lam.publish_version(FunctionName=name)["Version"]
    resp = lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    out = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, out
    assert out["init"] == "snap-start", out
    assert out["user"] == f"sbx_snap{out['uid']}", out
