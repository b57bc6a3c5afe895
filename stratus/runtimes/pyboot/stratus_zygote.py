"""The zygote of Python execution environments. Standard library only.

It starts once per interpreter, imports what every environment needs (the runtime client's
Python parts, boto3, common stdlib modules), freezes the heap and then forks one child per
environment. A child enters its own PID, mount, IPC and UTS namespaces and its cgroups, pivots
into a read-only root with the code at /var/task and a private /tmp, drops to an unprivileged
uid under seccomp, and only then runs awslambdaric with the function's handler.

Protocol with the server, over a SOCK_SEQPACKET socket passed as fd argv[1]; one JSON message
per packet:
  zygote -> server  {"ready": pid}
  server -> zygote  {"id", "env", "code_dir", "handler", "tmp_mb", "cgroups", "uid", "hostname",
                     "new_net"} with the write end of the environment's output pipe attached
  zygote -> server  {"id", "pid"} or {"id", "error"}
  zygote -> server  {"exit": pid, "code": returncode}  (negative: killed by that signal)
"""

import gc
import json
import os
import selectors
import signal
import socket
import sys
import traceback

import stratus_isolate as iso

PRELOAD = (
    "json", "base64", "datetime", "decimal", "hashlib", "hmac", "http.client", "logging",
    "re", "socket", "ssl", "struct", "time", "typing", "urllib.parse", "urllib.request",
    "uuid", "zlib", "collections", "dataclasses", "enum", "functools", "itertools", "random",
    "email.utils", "concurrent.futures", "simplejson",
    # awslambdaric, except the modules that read the environment when they load (the native
    # client reads AWS_LAMBDA_RUNTIME_API, bootstrap the log format): each child imports those.
    "awslambdaric.lambda_context", "awslambdaric.lambda_runtime_exception",
    "awslambdaric.lambda_runtime_marshaller", "awslambdaric.lambda_runtime_log_utils",
    "awslambdaric.lambda_literals", "awslambdaric.lambda_config",
    "boto3", "botocore.session", "botocore.client",
)


def preload_runtime_client():
    """Import awslambdaric whole, except its native client: that reads AWS_LAMBDA_RUNTIME_API
    once, when it loads, so each child loads it after its environment is set."""
    sys.modules["runtime_client"] = None  # makes `import runtime_client` fail, for now
    try:
        import awslambdaric.bootstrap  # noqa: F401
    finally:
        del sys.modules["runtime_client"]


def _load_runtime_client():
    """In the child, with its environment set: load the native client and re-read the settings
    that awslambdaric takes from the environment at import (log format and level)."""
    import importlib

    import awslambdaric.bootstrap
    import awslambdaric.lambda_runtime_client

    importlib.reload(awslambdaric.lambda_runtime_client)
    importlib.reload(awslambdaric.bootstrap)


def preload(modules):
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # a missing optional module only costs its import later
            print(f"zygote: preload {name} failed: {e}", file=sys.stderr)


def run_child(request, out_fd, root, ctrl, selector, wakeup_r):
    """In the forked child. Never returns."""
    code = 127
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        selector.close()
        ctrl.close()
        os.close(wakeup_r)
        iso.prctl(iso.PR_SET_PDEATHSIG, signal.SIGKILL)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        for procs in request["cgroups"]:
            with open(procs, "w") as f:
                f.write("0")
        iso.enter_environment(root, request["code_dir"], request["tmp_mb"], request["hostname"],
                              request["new_net"])
        iso.drop_privileges(request["uid"])
        os.chdir("/var/task")
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:] = ["/var/task"] + [p for p in sys.path if p not in ("", request["code_dir"])]
        import random

        random.seed()  # every child would otherwise repeat the zygote's sequence
        _load_runtime_client()
        from awslambdaric.__main__ import main as run_client

        sys.argv = ["awslambdaric", request["handler"]]
        code = 0
        run_client(sys.argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 127
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def send(ctrl, message):
    ctrl.send(json.dumps(message).encode())


def reap(ctrl):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(ctrl, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def serve(ctrl, root):
    selector = selectors.DefaultSelector()
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_r, False)
    os.set_blocking(wakeup_w, False)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector.register(ctrl, selectors.EVENT_READ)
    selector.register(wakeup_r, selectors.EVENT_READ)
    send(ctrl, {"ready": os.getpid()})
    while True:
        for key, _ in selector.select():
            if key.fileobj == wakeup_r:
                try:
                    os.read(wakeup_r, 4096)
                except BlockingIOError:
                    pass
                reap(ctrl)
                continue
            data, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 20, 4)
            if not data:
                return  # the server closed the socket
            request = json.loads(data)
            out_fd = fds[0] if fds else os.open("/dev/null", os.O_WRONLY)
            try:
                pid = iso.fork_into_new_pid_namespace()
            except OSError as e:
                os.close(out_fd)
                send(ctrl, {"id": request["id"], "error": str(e)})
                continue
            if pid == 0:
                run_child(request, out_fd, root, ctrl, selector, wakeup_r)
            os.close(out_fd)
            send(ctrl, {"id": request["id"], "pid": pid})
            reap(ctrl)


def main():
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    root = sys.argv[2]
    extra_paths = json.loads(sys.argv[3])
    iso.prctl(iso.PR_SET_PDEATHSIG, signal.SIGKILL)
    iso.unshare(iso.CLONE_NEWNS)
    iso.make_private()
    iso.build_template_root(root, extra_paths)
    here = os.path.dirname(os.path.abspath(__file__))
    preload(PRELOAD)
    preload_runtime_client()
    gc.collect()
    gc.freeze()  # keep the preloaded heap shared with every child (no refcount-driven copies)
    del here
    serve(ctrl, root)


if __name__ == "__main__":
    main()
