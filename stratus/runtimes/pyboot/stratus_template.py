"""Snapshot-style templates (Lambda's SnapStart model). Standard library only.

A template is an environment of one function version whose init phase has run. It lives in a
user namespace of its own (in-namespace root, mapped by the server to an unprivileged block of
host uids), so that after running the user's init code it can still give each environment it
forks a PID namespace, a mount namespace with its own /tmp and /proc, and an unprivileged uid of
its own. The init code runs under a relaxed seccomp filter; each environment adds the strict one.

Frames over the template's private channel (see stratus_channel for the format):
  template -> server  MAPME {}                  write my uid and gid maps
  server -> template  MAPPED {}
  template -> server  READY {} | INIT_FAILED {"type"} body
  server -> template  FORK {"uid", "tmp_mb"} with fds [output, channel]
  template -> server  FORKED {"ns_pid"} | EXITED {"ns_pid", "code"}
On an environment's own channel:
  environment -> server  HELLO {}  first thing: the server reads its host pid (SO_PASSCRED) and
                                   moves it into its cgroups, ahead of time if it is parked
  server -> environment  ASSIGN {"env", "tmp_mb"}  when a new environment is needed
"""

import json
import os
import signal
import socket
import sys

import stratus_channel as ch
import stratus_isolate as iso

MAPME, MAPPED, READY, INIT_FAILED, FORK, FORKED, EXITED, HELLO, ASSIGN = range(10, 19)


class Link:
    """The template's end of its channel: frames out, frames (and passed fds) in."""

    def __init__(self, fd):
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(True)
        self.decoder = ch.Decoder()
        self.fds = []

    def send(self, kind, header, body=b""):
        self.sock.sendall(ch.encode(kind, header, body))

    def receive(self):
        while True:
            frames = self.decoder.frames()
            if frames:
                return frames
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 4)
            if not data:
                raise EOFError("the server closed the template's channel")
            self.fds.extend(fds)
            self.decoder.feed(data)


def serve_template(job, channel_fd):
    """Runs in place of the runtime client in a template environment. Never returns."""
    stand_in = sys.modules.pop("runtime_client", None)
    if stand_in is not None and hasattr(stand_in, "_sock"):
        stand_in._sock.detach()  # the channel is the template's now, not the runtime client's
    link = Link(channel_fd)
    iso.unshare(iso.CLONE_NEWUSER)
    link.send(MAPME, {})
    kind = link.receive()[0][0]
    if kind != MAPPED:
        raise RuntimeError(f"expected MAPPED, got {kind}")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    iso.unshare(iso.CLONE_NEWNS)  # owned by the new user namespace: the template may mount in it
    iso.prctl(iso.PR_SET_NO_NEW_PRIVS, 1)
    iso.install_seccomp(relaxed=True)
    os.chdir("/var/task")
    os.environ.clear()
    os.environ.update(job["env"])
    sys.path[:] = ["/var/task"] + [p for p in sys.path if p not in ("", job["code_dir"])]

    sys.stdout.reconfigure(line_buffering=True)  # init's prints reach the log as they happen
    error = _init(job["handler"])
    sys.stdout.flush()  # and none stay buffered, to be written again by every environment
    sys.stderr.flush()
    if error is not None:
        link.send(INIT_FAILED, {"type": error.get("errorType", "")}, json.dumps(error).encode())
        sys.stdout.flush()
        os._exit(1)
    import gc

    gc.collect()
    gc.freeze()  # the init's objects stay shared with every environment forked from here
    link.send(READY, {})
    _fork_loop(link)


def _init(handler):
    """Import the handler as awslambdaric would, and report a failure in its error format."""
    from awslambdaric import bootstrap
    from awslambdaric.lambda_runtime_exception import FaultException

    try:
        bootstrap._get_handler(handler)
        return None
    except FaultException as e:
        return bootstrap.make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        return bootstrap.build_fault_result(sys.exc_info(), None)


def _fork_loop(link):
    watch = iso.ChildWatch(link.sock, lambda pid, code: link.send(EXITED, {"ns_pid": pid, "code": code}))
    while True:
        watch.wait()
        for kind, header, _body in link.receive():
            if kind != FORK:
                continue
            out_fd, chan_fd = link.fds.pop(0), link.fds.pop(0)
            try:
                pid = iso.fork_into_new_pid_namespace()
            except OSError as e:
                os.close(out_fd)
                os.close(chan_fd)
                link.send(FORKED, {"ns_pid": 0, "error": str(e)})
                continue
            if pid == 0:
                _run_environment(header, out_fd, chan_fd, link, watch)
            os.close(out_fd)
            os.close(chan_fd)
            link.send(FORKED, {"ns_pid": pid})
        watch.reap()


def _read_exactly(fd, size):
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_frame(fd):
    """One ASSIGN frame, read byte-exact so that nothing after it is consumed."""
    head = _read_exactly(fd, 4)
    if head is None:
        return None
    rest = _read_exactly(fd, int.from_bytes(head, "big"))
    if rest is None:
        return None
    decoder = ch.Decoder()
    decoder.feed(head + rest)
    kind, header, _body = decoder.frames()[0]
    if kind != ASSIGN:
        raise RuntimeError(f"expected ASSIGN, got {kind}")
    return header


def _run_environment(request, out_fd, chan_fd, link, watch):
    """A new environment forked from the template. Never returns."""
    iso.run_then_exit(lambda: _environment(request, out_fd, chan_fd, link, watch))


def _environment(request, out_fd, chan_fd, link, watch):
    watch.close_in_child()
    link.sock.close()
    # Descriptors the server sent for environments forked after this one: never this one's.
    while link.fds:
        os.close(link.fds.pop())
    iso.prctl(iso.PR_SET_PDEATHSIG, signal.SIGKILL)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    # First, so the server can place this process in its cgroups while it sets up the rest;
    # it hands over no event until that is done.
    os.write(chan_fd, ch.encode(HELLO, {}))
    iso.unshare(iso.CLONE_NEWNS)
    iso.mount_private_tmp("", request["tmp_mb"])
    iso.mount("proc", "/proc", "proc", iso.MS_NOSUID | iso.MS_NODEV | iso.MS_NOEXEC)
    assignment = _read_frame(chan_fd)  # parked here until the server needs an environment
    if assignment is None:
        os._exit(0)
    if assignment["tmp_mb"] != request["tmp_mb"]:
        iso.mount(
            None,
            "/tmp",
            None,
            iso.MS_REMOUNT | iso.MS_NOSUID | iso.MS_NODEV,
            f"size={int(assignment['tmp_mb'])}m",
        )
    iso.drop_privileges(request["uid"])
    import random

    random.seed()  # the template's state would repeat in every environment otherwise
    os.environ.update(assignment["env"])
    iso.bind_channel(ch.RuntimeClient(chan_fd))
    iso.run_client(os.environ["_HANDLER"])
