"""Boot shim of a Python execution environment. Runs under the function's own interpreter
(3.11 to 3.13), so it uses only the standard library.

Before any user code: join the environment's memory cgroup, then (as root) take a private mount
namespace with a fresh, size-limited tmpfs on /tmp. Then hand over to the official runtime client.
The private variables that carried these settings are removed from the environment first.
"""

import os
import sys


def _join_cgroup() -> None:
    for procs in filter(None, os.environ.pop("_STRATUS_CGROUP_PROCS", "").split(":")):
        with open(procs, "w") as f:
            f.write(str(os.getpid()))


def _die_with_server() -> None:
    """If the server dies (even by SIGKILL), its environments must not outlive it."""
    expected = os.environ.pop("_STRATUS_SERVER_PID", "")
    if not expected:
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, 9)
    if str(os.getppid()) != expected:  # the server died before prctl took effect
        os._exit(1)


def _private_tmp() -> None:
    size_mb = os.environ.pop("_STRATUS_PRIVATE_TMP_MB", "")
    if not size_mb:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    clone_newns = 0x00020000
    ms_rdonly, ms_remount, ms_bind, ms_rec, ms_private = 0x1, 0x20, 0x1000, 0x4000, 0x40000

    def check(result: int, what: str) -> None:
        if result != 0:
            raise OSError(ctypes.get_errno(), what)

    # The code and the runtime may live under the host's /tmp (a temporary data dir); keep a
    # handle on each so they can be bound back, read-only, over the fresh /tmp.
    keep = sorted({p for p in [os.getcwd(), *sys.path] if p.startswith("/tmp/") and os.path.isdir(p)})
    check(libc.unshare(clone_newns), "unshare(CLONE_NEWNS)")
    check(libc.mount(None, b"/", None, ms_rec | ms_private, None), "making / private")
    # Opened after unshare, so the handles belong to this namespace's copy of the mounts.
    handles = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in keep]
    options = f"size={int(size_mb)}m,mode=1777".encode()
    check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, options), "mounting /tmp")
    for path, fd in handles:
        os.makedirs(path, exist_ok=True)
        source = f"/proc/self/fd/{fd}".encode()
        check(libc.mount(source, path.encode(), None, ms_bind, None), f"binding {path}")
        check(
            libc.mount(None, path.encode(), None, ms_remount | ms_bind | ms_rdonly, None), f"read-only {path}"
        )
        os.close(fd)
    if handles:
        os.chdir(os.getcwd())


def main() -> None:
    # Whatever the server's event loop let through to this process (copies of its stdio, say)
    # is closed before any user code: the environment keeps its own fds 0-2 only.
    os.closerange(3, 1 << 20)
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))  # Lambda's open-file limit
    _die_with_server()
    _join_cgroup()
    _private_tmp()
    if "_STRATUS_DEBUG" in os.environ:  # `stratus invoke --debug`: its own environment
        import stratus_debug

        stratus_debug.start()
    # Only the function's code (the working directory) and the runtime's packages stay on the
    # path; the shim's own directory leaves it.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p != here]
    from awslambdaric.__main__ import main as run_client

    run_client(["awslambdaric", sys.argv[1]])


if __name__ == "__main__":
    main()
