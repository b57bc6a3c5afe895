"""The zygote of Python execution environments. Standard library only.

It starts once per interpreter, imports what every environment needs (the runtime client's
Python parts, boto3, common stdlib modules), freezes the heap and then forks one child per
environment. A child enters its own PID, mount, IPC and UTS namespaces and its cgroups, pivots
into a read-only root with the code at /var/task and a private /tmp, drops to an unprivileged
uid under seccomp, and only then runs awslambdaric with the function's handler.

Protocol with the server, over a SOCK_SEQPACKET socket passed as fd argv[1]; one JSON message
per packet:
  server -> zygote  {"root", "extra_paths"}  (once, first)
  zygote -> server  {"ready": pid}
  server -> zygote  {"id", "cgroups", "uid", "runtime_api", "tmp_mb"} with two fds attached: the
                    write end of the environment's output pipe, and the read end of its
                    assignment pipe
  zygote -> server  {"id", "pid"} or {"id", "error"}
  zygote -> server  {"exit": pid, "code": returncode}  (negative: killed by that signal)
The server then writes the assignment straight to the child and closes the pipe:
  {"env", "code_dir", "handler", "tmp_mb", "hostname", ...}
Each environment is cloned into new PID and network namespaces; the server sets up the latter
(stratus/isolation/network.py) before it sends the assignment.
"""

import gc
import json
import os
import signal
import socket
import sys

import stratus_isolate as iso

PRELOAD = (
    "json",
    "base64",
    "datetime",
    "decimal",
    "hashlib",
    "hmac",
    "http.client",
    "logging",
    "re",
    "socket",
    "ssl",
    "struct",
    "time",
    "typing",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "zlib",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "itertools",
    "random",
    "email.utils",
    "concurrent.futures",
    "simplejson",
    # awslambdaric, except the modules that read the environment when they load (the native
    # client reads AWS_LAMBDA_RUNTIME_API, bootstrap the log format): each child imports those.
    "awslambdaric.lambda_context",
    "awslambdaric.lambda_runtime_exception",
    "awslambdaric.lambda_runtime_marshaller",
    "awslambdaric.lambda_runtime_log_utils",
    "awslambdaric.lambda_literals",
    "awslambdaric.lambda_config",
    "boto3",
    "botocore.session",
    "botocore.client",
    "stratus_channel",
    "stratus_loop",
    "stratus_template",
)


def preload_runtime_client():
    """Import awslambdaric whole, except its native client: that reads AWS_LAMBDA_RUNTIME_API
    once, when it loads, so each child loads it after its environment is set."""
    sys.modules["runtime_client"] = None  # makes `import runtime_client` fail, for now
    try:
        import awslambdaric.__main__
        import awslambdaric.bootstrap
        import awslambdaric.lambda_runtime_hooks_runner  # noqa: F401 -- SnapStart's hooks, run at restore
    finally:
        del sys.modules["runtime_client"]
    # Load the resolver's modules now, once: the first name lookup in a fresh process reads
    # the NSS configuration and loads its libraries, which every cold start would pay for.
    socket.getaddrinfo("127.0.0.1", 9, type=socket.SOCK_STREAM)


def _load_runtime_client(channel_fd):
    """In the child, with AWS_LAMBDA_RUNTIME_API set: load the native client, or, given the fd
    of a private channel to the server, the stand-in that speaks over it."""
    if channel_fd is not None:
        import stratus_channel

        iso.bind_channel(stratus_channel.RuntimeClient(channel_fd))
        return
    import importlib

    import awslambdaric.lambda_runtime_client

    importlib.reload(awslambdaric.lambda_runtime_client)  # the native client reads the env now


def preload(modules):
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # a missing optional module only costs its import later
            print(f"zygote: preload {name} failed: {e}", file=sys.stderr)


def run_child(request, fds, root, ctrl, watch):
    """In the forked child. Never returns."""
    iso.run_then_exit(lambda: _child(request, fds, root, ctrl, watch))


def _child(request, fds, root, ctrl, watch):
    """First the part that does not depend on the function (a "blank" environment, which the
    server may keep ready ahead of time): namespaces, cgroups, /proc and /tmp, and the runtime
    client loaded with this environment's Runtime API address. Then it waits for its assignment,
    and finishes: the code at /var/task, pivot into the read-only root, drop privileges, run."""
    out_fd, assign_fd = fds[0], fds[1]
    channel_fd = fds[2] if len(fds) > 2 else None
    watch.close_in_child()
    ctrl.close()
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
    iso.prepare_environment(root, request["tmp_mb"])
    iso.mount_identity(root, request["uid"])  # its passwd and group, named for its uid
    os.environ["AWS_LAMBDA_RUNTIME_API"] = request["runtime_api"]
    _load_runtime_client(channel_fd)

    assignment = _read_all(assign_fd)
    if not assignment:
        os._exit(0)  # the server dropped this blank environment unused
    job = json.loads(assignment)
    if job["tmp_mb"] != request["tmp_mb"]:
        iso.resize_tmp(root, job["tmp_mb"])
    iso.finish_environment(root, job["code_dir"], job["hostname"], job.get("opt_dir"), job.get("app_dir"))
    # Before any user code (a template's init included): nothing of the zygote's or the
    # server's stays open. Python keeps its private channel; other runtimes exec with 0-2 only.
    exec_job = bool(job.get("bootstraps") or job.get("exec_argv"))
    keep_channel = channel_fd is not None and (not exec_job or bool(job.get("exec_channel")))
    iso.close_fds_except([channel_fd] if keep_channel else [])
    if job.get("template"):
        import stratus_template

        stratus_template.serve_template(job, channel_fd)
    iso.drop_privileges(request["uid"])
    os.chdir("/var/task")
    os.environ.clear()
    os.environ.update(job["env"])
    # As Lambda's Python runtimes order it: the code, then the layers, then the runtime.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    layers = [f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    sys.path[:] = ["/var/task", *layers] + [p for p in sys.path if p not in ("", job["code_dir"])]
    if job.get("bootstraps") or job.get("exec_argv"):
        import stratus_exec

        if job.get("exec_argv"):
            # Another runtime client: never returns. Stratus's Node client keeps the channel.
            stratus_exec.run_argv(job["exec_argv"], channel_fd if keep_channel else None)
        stratus_exec.run(job["bootstraps"])  # a custom runtime: never returns
    import random

    random.seed()  # every child would otherwise repeat the zygote's sequence
    if "AWS_LAMBDA_LOG_FORMAT" in job["env"] or "AWS_LAMBDA_LOG_LEVEL" in job["env"]:
        import importlib

        import awslambdaric.bootstrap

        importlib.reload(awslambdaric.bootstrap)  # it reads these when it loads
    if "_STRATUS_DEBUG" in os.environ:  # `stratus invoke --debug`: its own environment
        import stratus_debug

        stratus_debug.start()
    iso.run_client(job["handler"])


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def send(ctrl, message):
    ctrl.send(json.dumps(message).encode())


def serve(ctrl, root):
    watch = iso.ChildWatch(ctrl, lambda pid, code: send(ctrl, {"exit": pid, "code": code}))
    send(ctrl, {"ready": os.getpid()})
    while True:
        watch.wait()
        data, fds, _flags, _addr = socket.recv_fds(ctrl, 1 << 20, 4)
        if not data:
            return  # the server closed the socket
        request = json.loads(data)
        if len(fds) not in (2, 3):
            for fd in fds:
                os.close(fd)
            send(ctrl, {"id": request["id"], "error": "expected output, assignment and channel fds"})
            continue
        try:
            pid = iso.fork_into_new_pid_namespace()
        except OSError as e:
            for fd in fds:
                os.close(fd)
            send(ctrl, {"id": request["id"], "error": str(e)})
            continue
        if pid == 0:
            run_child(request, fds, root, ctrl, watch)
        for fd in fds:
            os.close(fd)
        send(ctrl, {"id": request["id"], "pid": pid})
        watch.reap()


def main():
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    # The server's event loop may hand a subprocess copies of its own descriptors (uvloop passes
    # its stdio along with pass_fds): the zygote keeps only its stdio pipes and its socket.
    iso.close_fds_except([ctrl.fileno()])
    # The settings come over the socket, not argv: every environment inherits this process's
    # command line, and host paths have no business there.
    settings = json.loads(ctrl.recv(1 << 16))
    root = settings["root"]
    extra_paths = settings["extra_paths"]
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
