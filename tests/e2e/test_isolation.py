"""Security tests of the Linux isolation backend: each test attacks from inside a function and
shows that the attack fails (and, where it means something, that the legitimate thing works).

The whole module runs only when the server says `isolation: linux` (root, cgroups, namespaces).
Every handler below reports what happened (errno, exception text) instead of raising, so a
failing assertion shows exactly what the attack achieved.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import socket
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ACCESS_KEY, SECRET_KEY, Server, runtime_names_in_tmp
from tests.e2e.test_invoke import (
    deploy,
    failed,
    host_pid,
    invoke,
    ok,
    pid_alive,
    run_concurrently,
    tail,
)

MIB = 1024 * 1024

# One handler module for every attack; the event's "action" picks the attack.
ATTACK_APP = r'''
import ctypes, errno, hashlib, http.client, json, os, re, signal, socket, time, urllib.error, urllib.request

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.write.restype = ctypes.c_ssize_t
libc.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
pylibc = ctypes.PyDLL(None, use_errno=True)  # keeps the GIL held: safe if a clone succeeds
pylibc.syscall.restype = ctypes.c_long


TOKEN = os.urandom(8).hex()  # one per environment: a later one may be given this one's uid


def env_id():
    return "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN)


def failure(e):
    if isinstance(e, OSError):
        return {"ok": False, "errno": e.errno, "errname": errno.errorcode.get(e.errno), "error": repr(e)}
    return {"ok": False, "errno": None, "errname": None, "error": repr(e)}


def attempt(fn, *args):
    try:
        result = fn(*args)
    except Exception as e:
        return failure(e)
    return {"ok": True, "result": repr(result)[:200]}


def _arg(a):
    return ctypes.c_long(a) if isinstance(a, int) else a


def syscall(nr, *args):
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    err = ctypes.get_errno()
    if ret == -1:
        return {"ok": False, "ret": ret, "errno": err, "errname": errno.errorcode.get(err)}
    return {"ok": True, "ret": ret}


def libc_call(name, *args):
    ctypes.set_errno(0)
    ret = getattr(libc, name)(*args)
    err = ctypes.get_errno()
    if ret == -1:
        return {"ok": False, "ret": ret, "errno": err, "errname": errno.errorcode.get(err)}
    return {"ok": True, "ret": ret}


def clone_call(nr, *args):
    """clone/clone3: if it ever succeeds, the child leaves at once."""
    ctypes.set_errno(0)
    ret = pylibc.syscall(ctypes.c_long(nr), *[_arg(a) for a in args])
    if ret == 0:
        os._exit(0)
    err = ctypes.get_errno()
    if ret > 0:
        os.waitpid(ret, 0)
        return {"ok": True, "ret": ret}
    return {"ok": False, "ret": ret, "errno": err, "errname": errno.errorcode.get(err)}


def read_text(path, limit=1 << 20):
    try:
        with open(path, "rb") as f:
            return {"ok": True, "data": f.read(limit).decode("utf-8", "replace")}
    except Exception as e:
        return failure(e)


def status_fields():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def http_call(addr, method, path, body=None, timeout=3.0, headers=None):
    """What happened to one HTTP request: a status, or why there was none."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return {"outcome": "status", "status": resp.status, "headers": dict(resp.getheaders()),
                "body": data.decode("utf-8", "replace")[:2000]}
    except (socket.timeout, TimeoutError):
        return {"outcome": "timeout"}
    except ConnectionRefusedError:
        return {"outcome": "refused"}
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
            http.client.BadStatusLine) as e:
        return {"outcome": "closed", "error": repr(e)}
    except OSError as e:
        return {"outcome": "error", "error": repr(e)}
    finally:
        conn.close()


# -- namespaces --------------------------------------------------------------------------------

def probe_namespaces(event):
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    ns = {}
    for kind in ("pid", "mnt", "ipc", "uts", "net", "cgroup", "user"):
        try:
            ns[kind] = os.readlink("/proc/self/ns/" + kind)
        except OSError as e:
            ns[kind] = "error: %r" % e
    cmdlines = {}
    for p in pids:
        r = read_text("/proc/%d/cmdline" % p)
        cmdlines[p] = r["data"].replace("\0", " ") if r["ok"] else r["error"]
    outside = event.get("outside_pids", [])
    return {
        "env": env_id(),
        "getpid": os.getpid(),
        "getppid": os.getppid(),
        "hostname": socket.gethostname(),
        "nodename": os.uname().nodename,
        "pids": pids,
        "ns": ns,
        "cmdlines": cmdlines,
        "outside_visible": {str(p): os.path.exists("/proc/%d" % p) for p in outside},
        "kill": {str(p): attempt(os.kill, p, 0) for p in outside},
        "kill_from_child": {str(p): kill_from_child(p) for p in outside},
    }


def kill_from_child(pid):
    """Fork, and let the child try to signal a process outside the environment."""
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(r)
            os.write(w, json.dumps(attempt(os.kill, pid, 0)).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(child, 0)
    return json.loads(data) if data else None


IPC_CREAT, IPC_EXCL = 0o1000, 0o2000
libc.shmget.restype = ctypes.c_int
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]


def shm(event):
    key = event["key"]
    out = {"env": env_id()}
    if event.get("create"):
        # World-accessible on purpose: only the namespace may keep another environment out.
        out["create"] = libc_call("shmget", key, 4096, IPC_CREAT | IPC_EXCL | 0o666)
    out["lookup"] = libc_call("shmget", key, 0, 0)
    listing = read_text("/proc/sysvipc/shm")
    keys = []
    if listing["ok"]:
        for line in listing["data"].splitlines()[1:]:
            if line.split():
                keys.append(int(line.split()[0]))
    out["listed_keys"] = keys
    out["listing_error"] = None if listing["ok"] else listing["error"]
    return out


# -- the filesystem ------------------------------------------------------------------------------

def try_create(path):
    with open(path, "a") as f:
        f.write("pwned")
    return "created"


def try_open_for_write(path):
    fd = os.open(path, os.O_WRONLY)
    os.close(fd)
    return "opened"


def filesystem(event):
    creates = {p: attempt(try_create, p) for p in (
        "/var/task/pwned", "/var/task/app.py", "/pwned", "/usr/pwned", "/usr/bin/pwned",
        "/etc/pwned", "/var/pwned", "/opt/pwned", "/dev/pwned", "/.old/pwned",
    )}
    mkdirs = {p: attempt(os.mkdir, p) for p in ("/var/task/dir", "/var/dir", "/etc/dir", "/dir")}
    others = {
        "chmod /var/task/app.py": attempt(os.chmod, "/var/task/app.py", 0o777),
        "unlink /var/task/app.py": attempt(os.unlink, "/var/task/app.py"),
        "rename /var/task/app.py": attempt(os.rename, "/var/task/app.py", "/var/task/moved.py"),
        "utime /var/task/app.py": attempt(os.utime, "/var/task/app.py", (0, 0)),
    }
    # Existing host files: only opened for writing, never written.
    open_writes = {p: attempt(try_open_for_write, p) for p in (
        "/etc/passwd", "/usr/bin/env", "/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern",
        "/proc/sysrq-trigger",
    )}
    token = event.get("token", "control")
    with open("/tmp/" + token, "w") as f:
        f.write(token)
    with open("/tmp/" + token) as f:
        tmp_roundtrip = f.read()
    return {
        "env": env_id(),
        "creates": creates,
        "mkdirs": mkdirs,
        "others": others,
        "open_writes": open_writes,
        "tmp_roundtrip": tmp_roundtrip == token,
        "code_intact": read_text("/var/task/app.py")["data"].startswith("\nimport ctypes"),
    }


def tmp_marker(event):
    if event.get("write"):
        with open("/tmp/" + event["write"], "w") as f:
            f.write(env_id())
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "env": env_id(),
        "listing": sorted(os.listdir("/tmp")),
        "exists": {p: os.path.exists(p) for p in event.get("check", [])},
    }


HOST_SYSTEM = ("proc", "sys", "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")


def runtime_dirs():
    """The runtime's own trees, bound in from the host: the interpreter prefix, the runtime
    client and the zygote's boot dir. Large, shared by design, and written by no function."""
    import sys
    import awslambdaric
    import stratus_isolate

    client = os.path.dirname(os.path.dirname(os.path.abspath(awslambdaric.__file__)))
    return sorted({sys.base_prefix, client, os.path.dirname(os.path.abspath(stratus_isolate.__file__))})


def walk(event):
    """Look for another function's code in every directory an environment can see, except the
    kernel's (/proc, /sys) and the host's system directories (/usr, /etc, /lib...): by name
    everywhere, and by content everywhere but in the runtime's own trees."""
    names, content = event["names"], event["content"].encode()
    limit = event.get("limit", 300000)
    skip_content = tuple(d.rstrip("/") + "/" for d in runtime_dirs())
    roots = ["/" + e for e in sorted(os.listdir("/")) if e not in HOST_SYSTEM]
    seen, read, found, unreadable, truncated = 0, 0, [], 0, False
    for root in roots:
        if truncated:
            break
        if not os.path.isdir(root) or os.path.islink(root):
            seen += 1
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            seen += len(dirnames) + len(filenames)
            for entry in dirnames + filenames:
                if any(n in entry for n in names):
                    found.append(os.path.join(dirpath, entry))
            if (dirpath + "/").startswith(skip_content):
                continue
            for entry in filenames:
                path = os.path.join(dirpath, entry)
                try:
                    if os.path.isfile(path) and os.path.getsize(path) <= 1024 * 1024:
                        read += 1
                        with open(path, "rb") as f:
                            if content in f.read():
                                found.append(path)
                except OSError:
                    unreadable += 1
            if seen > limit:
                truncated = True
                break
    return {
        "env": env_id(),
        "roots": roots,
        "runtime_dirs": list(skip_content),
        "seen": seen,
        "read": read,
        "found": found,
        "unreadable": unreadable,
        "truncated": truncated,
        "exists": {p: os.path.exists(p) for p in event.get("check", [])},
    }


def fill_tmp(event):
    chunk = b"x" * (1024 * 1024)
    written, error = 0, None
    path = "/tmp/fill"
    try:
        with open(path, "wb") as f:
            for _ in range(event["mb"]):
                f.write(chunk)
                f.flush()
                written += 1
    except OSError as e:
        error = failure(e)
    st = os.statvfs("/tmp")
    os.unlink(path)
    with open("/tmp/after", "wb") as f:  # space is back once the file is gone
        f.write(chunk)
    os.unlink("/tmp/after")
    return {"env": env_id(), "written_mb": written, "error": error,
            "tmp_size": st.f_blocks * st.f_frsize}


# -- cgroups ---------------------------------------------------------------------------------------

def alloc(event):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    block = bytearray(event.get("mb", 0) * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return {"env": env_id(), "bytes": len(block)}


def forkbomb(event):
    children, error = [], None
    for _ in range(event["limit"]):
        try:
            pid = os.fork()
        except OSError as e:
            error = failure(e)
            break
        if pid == 0:
            try:
                time.sleep(120)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except OSError:
            pass
    return {"env": env_id(), "forked": len(children), "error": error}


# -- privileges ------------------------------------------------------------------------------------

def whoami(event):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"env": env_id(), "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
            "groups": os.getgroups(), "status": status_fields(),
            "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API")}


CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
SIGCHLD = 17


def privileges(event):
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.unshare.argtypes = [ctypes.c_int]
    os.makedirs("/tmp/mnt", exist_ok=True)
    clone3_args = (ctypes.c_uint64 * 8)(CLONE_NEWUSER, 0, 0, 0, SIGCHLD, 0, 0, 0)
    iov = (ctypes.c_char * 16)()
    r = {
        "setuid(0)": attempt(os.setuid, 0),
        "setgid(0)": attempt(os.setgid, 0),
        "setgroups([0])": attempt(os.setgroups, [0]),
        "setresuid(0,0,0)": attempt(os.setresuid, 0, 0, 0),
        "mount tmpfs": libc_call("mount", b"none", b"/tmp/mnt", b"tmpfs", 0, None),
        "mount bind /": libc_call("mount", b"/", b"/tmp/mnt", None, 0x1000, None),
        "umount2 /var/task": libc_call("umount2", b"/var/task", 2),
        "pivot_root": syscall(155, ctypes.c_char_p(b"/tmp"), ctypes.c_char_p(b"/tmp/mnt")),
        "fsopen tmpfs": syscall(430, ctypes.c_char_p(b"tmpfs"), 0),
        "open_tree /": syscall(428, -100, ctypes.c_char_p(b"/"), 1),
        "unshare(CLONE_NEWUSER)": libc_call("unshare", CLONE_NEWUSER),
        "unshare(CLONE_NEWNS)": libc_call("unshare", CLONE_NEWNS),
        "unshare(CLONE_NEWNET)": libc_call("unshare", CLONE_NEWNET),
        "unshare(CLONE_NEWUSER|CLONE_NEWPID)": libc_call("unshare", CLONE_NEWUSER | CLONE_NEWPID),
        "clone(CLONE_NEWUSER)": clone_call(56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
        "clone(CLONE_NEWPID)": clone_call(56, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0),
        "clone3(CLONE_NEWUSER)": clone_call(435, ctypes.byref(clone3_args), 64),
        "setns(-1)": syscall(308, -1, 0),
        "ptrace(PTRACE_TRACEME)": syscall(101, 0, 0, 0, 0),
        "ptrace(PTRACE_ATTACH, 1)": syscall(101, 16, 1, 0, 0),
        "process_vm_readv(1)": syscall(310, 1, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0),
        "kexec_load": syscall(246, 0, 0, 0, 0),
        "kexec_file_load": syscall(320, -1, -1, 0, 0, 0),
        "init_module": syscall(175, 0, 0, ctypes.c_char_p(b"")),
        "finit_module": syscall(313, -1, ctypes.c_char_p(b""), 0),
        "delete_module": syscall(176, ctypes.c_char_p(b"stratus_no_such_module"), 0o4000),
        # LINUX_REBOOT_CMD_CAD_OFF: harmless even if it were allowed.
        "reboot(CAD_OFF)": syscall(169, 0xFEE1DEAD, 672274793, 0, 0),
        "swapon": syscall(167, ctypes.c_char_p(b"/tmp/no-such-swap"), 0),
        "chroot": attempt(os.chroot, "/tmp"),
        "sethostname": attempt(socket.sethostname, "pwned"),
        "clock_settime(NULL)": syscall(227, 0, 0),
        "bpf": syscall(321, 0, 0, 0),
        "perf_event_open": syscall(298, 0, 0, -1, -1, 0),
        "keyctl": syscall(250, 0, -3, 0),
        "io_uring_setup": syscall(425, 1, 0),
        "open_by_handle_at": syscall(304, -100, 0, 0),
        "userfaultfd": syscall(323, 0),
    }
    return {"env": env_id(), "attempts": r, "status": status_fields(), "hostname": socket.gethostname()}


# -- secrets -------------------------------------------------------------------------------------------

def _matches(data, needles, where, found):
    for n in needles:
        prefix = n["prefix"].encode()
        for m in re.finditer(re.escape(prefix), data):
            cand = data[m.start():m.start() + n["length"]]
            if len(cand) == n["length"] and hashlib.sha256(cand).hexdigest() == n["sha256"]:
                found.append({"needle": n["label"], "where": where})
                break


def scan_own_memory(needles):
    """Every anonymous readable mapping of this process, copied out through write(2) to a memfd
    (an unmapped page gives EFAULT instead of a crash)."""
    regions = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            name = parts[5] if len(parts) > 5 else ""
            if parts[1][0] != "r" or name not in ("", "[heap]", "[stack]"):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            regions.append((start, end))
    fd = os.memfd_create("scan")
    found, scanned, chunk = [], 0, 1 << 20
    keep = max([len(n["prefix"]) + n["length"] for n in needles] + [1])
    try:
        for start, end in regions:
            tail = b""
            for off in range(start, end, chunk):
                size = min(chunk, end - off)
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                n = libc.write(fd, ctypes.c_void_p(off), size)
                if n <= 0:
                    break
                os.lseek(fd, 0, os.SEEK_SET)
                data = tail + os.read(fd, n)
                scanned += n
                _matches(data, needles, "memory %#x" % off, found)
                tail = data[-keep:]
    finally:
        os.close(fd)
    return found, scanned, len(regions)


def secrets(event):
    needles = event["needles"]
    found = []
    env_blob = "\n".join("%s=%s" % kv for kv in os.environ.items()).encode()
    _matches(env_blob, needles, "os.environ", found)
    environ_reads = {}
    for p in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        for what in ("environ", "cmdline"):
            path = "/proc/%d/%s" % (p, what)
            try:
                with open(path, "rb") as f:
                    data = f.read()
                environ_reads[path] = "read %d bytes" % len(data)
                _matches(data, needles, path, found)
                for name in event.get("names", []):
                    if (name + "=").encode() in data:
                        found.append({"needle": name, "where": path})
            except OSError as e:
                environ_reads[path] = failure(e)["errname"]
    other = {}
    for p in event.get("other_pids", []):
        path = "/proc/%d/environ" % p
        other[path] = {"exists": os.path.exists(path), "read": read_text(path)}
        if other[path]["read"]["ok"]:
            _matches(other[path]["read"]["data"].encode(), needles, path, found)
    scanned = regions = 0
    if event.get("memory"):
        mem_found, scanned, regions = scan_own_memory(needles)
        found.extend(mem_found)
    return {
        "env": env_id(),
        "names_in_environ": [n for n in event.get("names", []) if n in os.environ],
        "found": found,
        "environ_reads": environ_reads,
        "other": other,
        "memory_scanned": scanned,
        "memory_regions": regions,
    }


# -- the Runtime API and the control API ----------------------------------------------------------

def runtime_api(event):
    addr = event.get("addr") or os.environ["AWS_LAMBDA_RUNTIME_API"]
    results = []
    for call in event["calls"]:
        results.append(http_call(addr, call["method"], call["path"], call.get("body"),
                                 timeout=call.get("timeout", 3.0)))
    return {"env": env_id(), "results": results}


def control_api(event):
    endpoint = event["endpoint"]
    out = {"env": env_id()}
    try:
        with urllib.request.urlopen(endpoint + "/2015-03-31/functions", timeout=5) as resp:
            out["unsigned"] = {"status": resp.status, "body": resp.read().decode()[:2000]}
    except urllib.error.HTTPError as e:
        out["unsigned"] = {"status": e.code, "body": e.read().decode()[:2000]}
    except Exception as e:
        out["unsigned"] = failure(e)
    out["aws_env"] = {k: v for k, v in os.environ.items()
                      if k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION", "STRATUS"))}
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"  # never ask a real cloud's metadata service
    import botocore.session

    creds = botocore.session.get_session().get_credentials()
    out["default_chain"] = None
    if creds is not None:
        frozen = creds.get_frozen_credentials()
        out["default_chain"] = {"access_key": frozen.access_key, "secret_key": frozen.secret_key}
        import boto3
        from botocore.config import Config

        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                              config=Config(retries={"max_attempts": 1}))
        try:
            client.list_functions()
            out["signed_with_chain"] = "allowed"
        except Exception as e:
            out["signed_with_chain"] = repr(e)
    return out


def wait_for_release(event, context):
    """Busy until the test drops a file into this environment's /tmp (from the host)."""
    print("holding " + context.aws_request_id)
    flag = "/tmp/release-" + event.get("token", "")
    deadline = time.monotonic() + event.get("max_wait", 15)
    while not os.path.exists(flag) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"env": env_id(), "who": event.get("who"), "released": os.path.exists(flag)}


ACTIONS = {
    "namespaces": probe_namespaces, "shm": shm, "filesystem": filesystem, "tmp": tmp_marker,
    "walk": walk, "fill_tmp": fill_tmp, "alloc": alloc, "forkbomb": forkbomb, "whoami": whoami,
    "privileges": privileges, "secrets": secrets, "runtime_api": runtime_api,
    "control_api": control_api,
}


def handler(event, context):
    if event.get("action") == "hold":
        result = wait_for_release(event, context)
    else:
        result = ACTIONS[event["action"]](event)
    result["rid"] = context.aws_request_id
    return result
'''

REFUSED = {errno.EROFS, errno.EACCES, errno.EPERM}


@pytest.fixture(autouse=True, scope="module")
def linux_isolation(server: Server) -> None:
    match = re.search(r"^\s*isolation:\s*(\S+)", server.output(), re.M)
    isolation = match.group(1) if match else None
    if isolation != "linux":
        pytest.skip(f"the server runs with isolation {isolation!r}, not 'linux'")


def name(prefix: str) -> str:
    return f"iso-{prefix}-{uuid.uuid4().hex[:8]}"


def attack_fn(lam: Any, prefix: str, files: dict[str, str] | None = None, **kwargs: Any) -> str:
    fn = name(prefix)
    deploy(lam, fn, {"app.py": ATTACK_APP, **(files or {})}, **kwargs)
    return fn


def run(lam: Any, fn: str, action: str, **event: Any) -> Any:
    return ok(*invoke(lam, fn, {"action": action, **event}))


def assert_denied(result: dict[str, Any], allowed: set[int] = REFUSED) -> None:
    assert result["ok"] is False, result
    assert result["errno"] in allowed, result


def needle(label: str, secret: str, prefix_len: int = 6) -> dict[str, Any]:
    """A secret described without its text: a prefix, its length and a hash of it."""
    return {"label": label, "prefix": secret[:prefix_len], "length": len(secret),
            "sha256": hashlib.sha256(secret.encode()).hexdigest()}


def cgroup_dirs(pid: int) -> dict[str, Path]:
    """controller -> the host directory of the cgroup a host process is in (v1 or v2)."""
    base = Path("/sys/fs/cgroup")
    dirs: dict[str, Path] = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "" and (base / "cgroup.controllers").exists():
            for c in ("memory", "pids", "cpu"):
                dirs.setdefault(c, base / path.lstrip("/"))
            continue
        for c in controllers.split(","):
            for mount in (base / controllers, base / c):
                if mount.is_dir():
                    dirs[c] = mount / path.lstrip("/")
                    break
    return dirs


def env_host_pid(env: str) -> int:
    pid = host_pid(env)
    assert pid is not None, f"no host process for environment {env}"
    return pid


# -- 1. namespaces -----------------------------------------------------------------------------------


def test_pid_uts_and_mount_namespaces(server: Server, lam: Any) -> None:
    fn = attack_fn(lam, "ns")
    assert server.proc is not None
    outside = [os.getpid(), server.proc.pid]
    out = run(lam, fn, "namespaces", outside_pids=outside)

    assert out["getpid"] == 1, out
    assert out["getppid"] == 0, out  # its parent (the zygote) is outside the namespace
    assert out["pids"] == [1], out  # only itself: no host process, no other environment
    assert not any("stratus serve" in c for c in out["cmdlines"].values()), out
    for pid in outside:
        assert out["outside_visible"][str(pid)] is False, out
        # Signalling the test process or the server fails: those pids do not exist in here.
        assert_denied(out["kill"][str(pid)], {errno.ESRCH})
        assert_denied(out["kill_from_child"][str(pid)], {errno.ESRCH})

    assert out["hostname"] != socket.gethostname(), out
    assert out["nodename"] != os.uname().nodename, out
    for kind in ("pid", "mnt", "ipc", "uts"):
        assert out["ns"][kind] != os.readlink(f"/proc/self/ns/{kind}"), (kind, out["ns"])


def test_sysv_shared_memory_is_private_to_the_environment(lam: Any) -> None:
    key = random.randrange(0x10000000, 0x7FFFFFFF)
    a = attack_fn(lam, "shma")
    b = attack_fn(lam, "shmb")

    created = run(lam, a, "shm", key=key, create=True)
    assert created["create"]["ok"], created  # the positive control: A can create it...
    seg = created["create"]["ret"]
    again = run(lam, a, "shm", key=key)
    assert again["env"] == created["env"]
    assert again["lookup"] == {"ok": True, "ret": seg}, again  # ...and find it again
    assert key in again["listed_keys"], again

    other = run(lam, b, "shm", key=key)
    assert other["env"] != created["env"]
    assert_denied(other["lookup"], {errno.ENOENT})  # mode 0666, yet B cannot find it
    assert key not in other["listed_keys"], other
    # Nor does it exist on the host.
    host_keys = [int(line.split()[0]) for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
                 if line.split()]
    assert key not in host_keys


# -- 2. the filesystem ---------------------------------------------------------------------------------


def test_read_only_filesystem_and_writable_tmp(lam: Any) -> None:
    fn = attack_fn(lam, "fs")
    out = run(lam, fn, "filesystem", token="positive-control")
    for path, result in {**out["creates"], **out["mkdirs"], **out["others"]}.items():
        assert result["ok"] is False, (path, result)
        assert result["errno"] in REFUSED, (path, result)
    for path, result in out["open_writes"].items():
        allowed = REFUSED | ({errno.ENOENT} if path.startswith("/proc/") else set())
        assert result["ok"] is False and result["errno"] in allowed, (path, result)
    assert out["tmp_roundtrip"] is True, out  # the positive control: /tmp is writable
    assert out["code_intact"] is True, out
    # Still the same code on the next invoke.
    assert run(lam, fn, "filesystem", token="again")["code_intact"] is True


def test_tmp_is_not_shared_between_functions(server: Server, lam: Any) -> None:
    a = attack_fn(lam, "tmpa")
    b = attack_fn(lam, "tmpb")
    marker = f"marker-{uuid.uuid4().hex}"
    wrote = run(lam, a, "tmp", write=marker)
    assert marker in wrote["listing"]
    assert run(lam, a, "tmp")["listing"] == wrote["listing"]  # persists across warm invokes

    seen = run(lam, b, "tmp", check=[f"/tmp/{marker}", str(server.data_dir)])
    assert set(seen["listing"]) <= runtime_names_in_tmp(), seen
    assert seen["exists"] == {f"/tmp/{marker}": False, str(server.data_dir): False}, seen


def test_concurrent_environments_of_one_function_do_not_share_tmp(server: Server, lam: Any) -> None:
    fn = attack_fn(lam, "tmpcc", Timeout=10)
    tokens = [f"token-{uuid.uuid4().hex}", f"token-{uuid.uuid4().hex}"]
    counter = iter(range(2))
    lock = threading.Lock()

    def call(client: Any) -> Any:
        with lock:
            token = tokens[next(counter)]
        return token, ok(*invoke(client, fn, {"action": "tmp", "write": token, "sleep": 1.5}))

    results = run_concurrently(server, 2, call)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    (token1, first), (token2, second) = results
    assert first["env"] != second["env"], results  # two environments
    ours = runtime_names_in_tmp()
    assert [n for n in first["listing"] if n not in ours] == [token1], results
    assert [n for n in second["listing"] if n not in ours] == [token2], results


def test_server_data_dir_and_other_functions_code_are_unreachable(server: Server, lam: Any) -> None:
    marker = uuid.uuid4().hex
    victim = attack_fn(lam, "victim", {f"victim-{marker}.txt": f"victim-content-{marker}\n"})
    run(lam, victim, "whoami")  # running, so its code is in use
    code_dir = server.data_dir / "code"
    assert code_dir.is_dir() and (server.data_dir / "stratus.db").exists()  # it is all on the host

    # The walk covers every file the environment can see, /usr included, which grows with what
    # the host has installed (a browser and the AWS CLI v2 for the tests): time, not a limit.
    attacker = attack_fn(lam, "attacker", Timeout=60)
    check = [str(server.data_dir), str(code_dir), str(server.data_dir / "stratus.db"),
             str(server.data_dir.parent), str(server.data_dir / "run")]
    out = run(lam, attacker, "walk", names=[marker], content=f"victim-content-{marker}", check=check)
    assert out["found"] == [], out
    assert out["exists"] == {p: False for p in check}, out
    assert out["seen"] > 0 and not out["truncated"], out  # it did look, and looked everywhere
    assert "/var" in out["roots"] and "/tmp" in out["roots"]


@pytest.mark.parametrize("size", [512, 640])
def test_tmp_size_is_limited_by_ephemeral_storage(lam: Any, size: int) -> None:
    # tmpfs pages count against the memory cgroup: 1024 MB leaves room for the whole of /tmp, so
    # what stops the writer is the tmpfs size (ENOSPC), not the memory limit (an OOM kill).
    # 512 is the default; 640 shows the setting itself is honoured.
    fn = attack_fn(lam, "eph", MemorySize=1024, Timeout=30, EphemeralStorage={"Size": size})
    out = run(lam, fn, "fill_tmp", mb=size + 88)
    assert out["tmp_size"] == size * MIB, out
    assert out["error"] is not None and out["error"]["errno"] == errno.ENOSPC, out
    assert size - 12 <= out["written_mb"] <= size, out
    # The environment is intact afterwards, and the space came back (the handler wrote again).
    assert run(lam, fn, "whoami")["env"] == out["env"]


# -- 3. cgroups ------------------------------------------------------------------------------------------


def test_memory_limit_kills_only_that_environment(server: Server, lam: Any) -> None:
    fn = attack_fn(lam, "oom", MemorySize=128, Timeout=10)
    bystander = attack_fn(lam, "bystander", MemorySize=128)
    bystander_env = run(lam, bystander, "whoami")["env"]

    results = run_concurrently(server, 2, lambda c: ok(*invoke(c, fn, {"action": "alloc", "sleep": 1})))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    envs = {r["env"] for r in results}
    assert len(envs) == 2, results

    resp, payload = invoke(lam, fn, {"action": "alloc", "mb": 300}, LogType="Tail")
    err = failed(resp, payload)
    assert err["errorType"] == "Runtime.OutOfMemory", err
    assert "Memory Size: 128 MB" in tail(resp)

    # Exactly one of the two environments died: the one that ran the invoke.
    deadline = time.monotonic() + 15
    while all(pid_alive(e) for e in envs) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = {e for e in envs if pid_alive(e)}
    assert len(alive) == 1, (envs, alive)
    assert pid_alive(bystander_env)
    assert run(lam, bystander, "whoami")["env"] == bystander_env  # untouched

    assert run(lam, fn, "alloc", mb=20)["bytes"] == 20 * MIB  # the function goes on


def test_pids_limit_stops_a_fork_bomb(server: Server, lam: Any) -> None:
    fn = attack_fn(lam, "forkbomb", MemorySize=4096, Timeout=30)
    out = run(lam, fn, "forkbomb", limit=2000)
    assert out["error"] is not None, out
    assert out["error"]["errno"] == errno.EAGAIN, out
    assert 0 < out["forked"] < 1024, out
    # The environment survives (its children are gone) and can fork again; the server is fine.
    small = run(lam, fn, "forkbomb", limit=10)
    assert (small["env"], small["forked"], small["error"]) == (out["env"], 10, None), small
    with urllib.request.urlopen(f"{server.endpoint}/_stratus/health", timeout=5) as r:
        assert r.status == 200
    other = attack_fn(lam, "afterbomb")
    run(lam, other, "whoami")


def test_cgroup_limits_seen_from_the_host(lam: Any) -> None:
    fn = attack_fn(lam, "cg", MemorySize=256)
    pid = env_host_pid(run(lam, fn, "whoami")["env"])
    dirs = cgroup_dirs(pid)
    memory = dirs["memory"]
    if (memory / "memory.limit_in_bytes").exists():  # cgroup v1
        assert int((memory / "memory.limit_in_bytes").read_text()) == 256 * MIB
        memsw = memory / "memory.memsw.limit_in_bytes"
        if memsw.exists():
            assert int(memsw.read_text()) == 256 * MIB  # no swap to escape into
    else:
        assert int((memory / "memory.max").read_text()) == 256 * MIB
    assert pid in [int(p) for p in (memory / "cgroup.procs").read_text().split()]
    assert "pids" in dirs, dirs
    assert (dirs["pids"] / "pids.max").read_text().strip() == "1024"


def test_cpu_share_follows_memory(lam: Any) -> None:
    shares = {}
    for memory in (1769, 128):
        fn = attack_fn(lam, f"cpu{memory}", MemorySize=memory)
        cpu = cgroup_dirs(env_host_pid(run(lam, fn, "whoami")["env"]))["cpu"]
        v1 = cpu / "cpu.shares"
        shares[memory] = int((v1 if v1.exists() else cpu / "cpu.weight").read_text())
    expected = 1769 / 128
    assert abs(shares[1769] / shares[128] - expected) / expected < 0.05, shares


# -- 4. privileges --------------------------------------------------------------------------------------


def test_each_environment_has_its_own_unprivileged_uid(server: Server, lam: Any) -> None:
    fn = attack_fn(lam, "uid", Timeout=10)
    results = run_concurrently(server, 2, lambda c: ok(*invoke(c, fn, {"action": "whoami", "sleep": 1})))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    uids = [r["uid"] for r in results]
    assert len({r["env"] for r in results}) == 2, results
    assert uids[0] != uids[1], results  # not one shared uid (such as nobody) for all
    for r in results:
        assert r["uid"] == r["euid"] and r["uid"] not in (0, 65534), r
        assert r["gid"] != 0 and r["groups"] == [], r
        status = r["status"]
        assert status["NoNewPrivs"] == "1", status
        assert status["Seccomp"] == "2", status
        for cap in ("CapEff", "CapPrm", "CapInh", "CapAmb"):
            assert int(status[cap], 16) == 0, (cap, status)
        uid_fields = status["Uid"].split()
        assert uid_fields == [str(r["uid"])] * 4, status  # real, effective, saved, fs


BLOCKED = [
    "setuid(0)", "setgid(0)", "setgroups([0])", "setresuid(0,0,0)", "mount tmpfs", "mount bind /",
    "umount2 /var/task", "pivot_root", "fsopen tmpfs", "open_tree /", "unshare(CLONE_NEWUSER)",
    "unshare(CLONE_NEWNS)", "unshare(CLONE_NEWNET)", "unshare(CLONE_NEWUSER|CLONE_NEWPID)",
    "clone(CLONE_NEWUSER)", "clone(CLONE_NEWPID)", "setns(-1)", "ptrace(PTRACE_TRACEME)",
    "ptrace(PTRACE_ATTACH, 1)", "process_vm_readv(1)", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot(CAD_OFF)", "swapon", "chroot",
    "sethostname", "clock_settime(NULL)", "bpf", "perf_event_open", "keyctl", "io_uring_setup",
    "open_by_handle_at", "userfaultfd",
]


@pytest.fixture(scope="module")
def privilege_attempts(server: Server) -> dict[str, Any]:
    lam = server.client("lambda")
    fn = attack_fn(lam, "privs")
    return run(lam, fn, "privileges")  # type: ignore[no-any-return]


@pytest.mark.parametrize("attack", BLOCKED)
def test_privileged_operation_is_refused(privilege_attempts: dict[str, Any], attack: str) -> None:
    result = privilege_attempts["attempts"][attack]
    assert_denied(result, {errno.EPERM})


def test_clone3_is_unavailable(privilege_attempts: dict[str, Any]) -> None:
    # clone3's flags live in memory seccomp cannot read: it is refused whatever it asks for
    # (ENOSYS makes libc fall back to clone, which the filter inspects).
    assert_denied(privilege_attempts["attempts"]["clone3(CLONE_NEWUSER)"], {errno.ENOSYS, errno.EPERM})


def test_privilege_attacks_changed_nothing(privilege_attempts: dict[str, Any]) -> None:
    assert privilege_attempts["hostname"] != "pwned"
    assert privilege_attempts["status"]["NoNewPrivs"] == "1"
    assert int(privilege_attempts["status"]["CapEff"], 16) == 0


# -- 5. environment variables --------------------------------------------------------------------------


def test_other_functions_environment_variables_are_not_readable(lam: Any) -> None:
    secret = f"SEKRIT{uuid.uuid4().hex}"
    a = attack_fn(lam, "enva", Environment={"Variables": {"SECRET_A": secret}})
    seen_by_a = run(lam, a, "secrets", needles=[needle("SECRET_A", secret)], names=["SECRET_A"])
    # The positive control: A itself has its secret (so the search below would find it).
    assert seen_by_a["names_in_environ"] == ["SECRET_A"], seen_by_a
    assert {"needle": "SECRET_A", "where": "os.environ"} in seen_by_a["found"], seen_by_a
    a_pid = env_host_pid(seen_by_a["env"])

    b = attack_fn(lam, "envb")
    out = run(lam, b, "secrets", needles=[needle("SECRET_A", secret), needle("server-secret", SECRET_KEY)],
              names=["SECRET_A", "STRATUS_SECRET_ACCESS_KEY", "STRATUS_ACCESS_KEY_ID"], other_pids=[a_pid])
    assert out["names_in_environ"] == [], out
    assert out["found"] == [], out
    assert out["other"][f"/proc/{a_pid}/environ"]["exists"] is False, out


def test_secrets_do_not_reach_other_environments_memory(lam: Any) -> None:
    """Environments are forked from one zygote per runtime: nothing the zygote held for one
    function (its environment variables) may be inherited by the next function's process."""
    secret = f"SEKRIT{uuid.uuid4().hex}"
    a = attack_fn(lam, "mema", Environment={"Variables": {"SECRET_A": secret}})
    seen_by_a = run(lam, a, "secrets", needles=[needle("SECRET_A", secret)], memory=True)
    assert any(f["where"].startswith("memory") for f in seen_by_a["found"]), seen_by_a  # control

    b = attack_fn(lam, "memb", MemorySize=512, Timeout=30)
    out = run(lam, b, "secrets", memory=True,
              needles=[needle("SECRET_A", secret), needle("server-secret", SECRET_KEY)])
    assert out["memory_scanned"] > 10 * MIB, out  # it did read its memory
    assert out["found"] == [], out


def test_server_credentials_are_not_in_the_environment(lam: Any) -> None:
    fn = attack_fn(lam, "srvenv")
    needles = [needle("server-secret", SECRET_KEY), needle("server-key", ACCESS_KEY)]
    # AWS_SECRET_ACCESS_KEY is there, and must be: the function's own role session (issue 14).
    # The needles hold it to not being the server's root secret, anywhere in the environment.
    names = ["STRATUS_SECRET_ACCESS_KEY", "STRATUS_ACCESS_KEY_ID"]
    out = run(lam, fn, "secrets", needles=needles, names=names, memory=True)
    assert out["names_in_environ"] == [], out
    assert out["found"] == [], out


# -- 6. the Runtime API ------------------------------------------------------------------------------------

NEXT = "/2018-06-01/runtime/invocation/next"


def response_path(request_id: str) -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/response"


def assert_not_served(result: dict[str, Any]) -> None:
    """A request from another environment must not be served: refused, closed, left without an
    answer, or a 4xx -- never a delivered event or an accepted response. Each environment has a
    network namespace of its own, so "A's address" (127.0.0.1:9001) reaches the attacker's own
    Runtime API, which knows nothing of A's invocations (400 InvalidRequestID)."""
    if result["outcome"] == "status":
        assert 400 <= result["status"] < 500, result
        assert "Lambda-Runtime-Aws-Request-Id" not in result["headers"], result
    else:
        assert result["outcome"] in ("refused", "closed", "timeout"), result


def release(env: str, token: str) -> None:
    """Let a held environment finish: drop the file it waits for into its /tmp, from the host."""
    Path(f"/proc/{env_host_pid(env)}/root/tmp/release-{token}").write_text("go")


def held_request_id(server: Server, fn: str, known: set[str]) -> str:
    """The request id of the invoke `fn` is holding, from the START line the server logs."""
    logs = server.client("logs")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn}")["events"]
        except Exception:
            events = []
        for e in events:
            m = re.match(r"START RequestId: (\S+)", e["message"])
            if m and m.group(1) not in known:
                return m.group(1)
        time.sleep(0.1)
    raise AssertionError(f"{fn} never started the held invoke")


class Held:
    """An invoke of `fn` that its environment holds (busy) until released from the host."""

    def __init__(self, server: Server, fn: str, env: str, known: set[str]) -> None:
        self.token = uuid.uuid4().hex
        self._env = env
        self._result: dict[str, Any] = {}
        client = server.client("lambda")
        event = {"action": "hold", "who": fn, "token": self.token}
        self._thread = threading.Thread(target=lambda: self._result.update(r=invoke(client, fn, event)))
        self._thread.start()
        self.request_id = held_request_id(server, fn, known)

    def finish(self) -> Any:
        release(self._env, self.token)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the held invoke did not return"
        return ok(*self._result["r"])


def test_runtime_api_rejects_a_made_up_request_id(lam: Any) -> None:
    fn = attack_fn(lam, "rapiself")
    made_up = str(uuid.uuid4())
    out = run(lam, fn, "runtime_api", calls=[
        {"method": "POST", "path": response_path(made_up), "body": '"forged"'},
        {"method": "POST", "path": f"/2018-06-01/runtime/invocation/{made_up}/error", "body": "{}"},
    ])
    for result in out["results"]:
        assert result["outcome"] == "status" and 400 <= result["status"] < 500, result
    assert run(lam, fn, "whoami")["env"] == out["env"]  # and the environment goes on


def test_another_environment_cannot_fetch_events_from_a_runtime_api(server: Server, lam: Any) -> None:
    a = attack_fn(lam, "rapia", Timeout=20)
    b = attack_fn(lam, "rapib", Timeout=20)
    a_info = run(lam, a, "whoami")
    addr = a_info["runtime_api"]
    get_next = [{"method": "GET", "path": NEXT, "timeout": 2}]

    # A idle: its runtime client is long-polling /next.
    idle = run(lam, b, "runtime_api", addr=addr, calls=get_next)["results"][0]

    # A busy, holding an invoke: no /next of its own is open, so B's would be the only one.
    held = Held(server, a, a_info["env"], {a_info["rid"]})
    try:
        busy = run(lam, b, "runtime_api", addr=addr, calls=get_next)["results"][0]
    finally:
        answer = held.finish()

    assert_not_served(idle)
    assert_not_served(busy)
    assert answer == {"env": a_info["env"], "who": a, "released": True, "rid": held.request_id}, answer
    # A still answers its own invokes, from the same environment.
    assert run(lam, a, "whoami")["env"] == a_info["env"]


def test_another_environment_cannot_answer_events_of_a_runtime_api(server: Server, lam: Any) -> None:
    a = attack_fn(lam, "rapia", Timeout=20)
    b = attack_fn(lam, "rapib", Timeout=20)
    a_info = run(lam, a, "whoami")
    addr = a_info["runtime_api"]

    held = Held(server, a, a_info["env"], {a_info["rid"]})
    try:
        # B knows the id of the invoke A is working on, and tries to answer it for A.
        attack = run(lam, b, "runtime_api", addr=addr, calls=[
            {"method": "POST", "path": response_path(held.request_id), "body": '"hijacked by B"'},
            {"method": "POST", "path": f"/2018-06-01/runtime/invocation/{held.request_id}/error",
             "body": '{"errorMessage": "hijacked by B", "errorType": "Hijacked"}'},
            {"method": "POST", "path": response_path(str(uuid.uuid4())), "body": '"forged"'},
        ])
    finally:
        answer = held.finish()

    # A's invoke got A's own answer...
    assert answer == {"env": a_info["env"], "who": a, "released": True, "rid": held.request_id}, answer
    for result in attack["results"]:
        assert_not_served(result)
    # ...and A goes on answering correctly.
    assert run(lam, a, "whoami")["env"] == a_info["env"]


# -- 7. the control API -------------------------------------------------------------------------------


def test_control_api_refuses_a_function(server: Server, lam: Any) -> None:
    fn = attack_fn(lam, "ctl", Timeout=10)
    out = run(lam, fn, "control_api", endpoint=server.endpoint)
    assert out["unsigned"].get("status") == 403, out
    assert out["aws_env"].get("AWS_ACCESS_KEY_ID") != ACCESS_KEY, out
    assert SECRET_KEY not in json.dumps(out["aws_env"]), out
    assert not any(k.startswith("STRATUS") for k in out["aws_env"]), out
    chain = out["default_chain"]
    if chain is not None:
        assert chain["access_key"] != ACCESS_KEY and chain["secret_key"] != SECRET_KEY, out
        assert out["signed_with_chain"] != "allowed", out


# -- 8. what an environment can learn about its host ---------------------------------------------------

HOST_VIEW_APP = """
def handler(event, context):
    with open("/proc/1/cmdline", "rb") as f:
        cmdline = f.read().replace(b"\\0", b" ").decode()
    with open("/proc/self/cgroup") as f:
        cgroups = f.read()
    caps = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Cap"):
                key, value = line.split(":")
                caps[key] = value.strip()
    return {"cmdline": cmdline, "cgroups": cgroups, "caps": caps}
"""


def test_host_paths_and_capability_bounds_are_hidden(server: Server, lam: Any) -> None:
    name = f"hostview-{uuid.uuid4().hex[:8]}"
    deploy(lam, name, {"app.py": HOST_VIEW_APP})
    seen = ok(*invoke(lam, name))
    assert str(server.data_dir) not in seen["cmdline"], seen["cmdline"]
    # A cgroup namespace: the environment sees its own group as the root.
    for line in seen["cgroups"].splitlines():
        assert line.rsplit(":", 1)[1] == "/", seen["cgroups"]
    assert seen["caps"]["CapBnd"] == "0000000000000000", seen["caps"]
