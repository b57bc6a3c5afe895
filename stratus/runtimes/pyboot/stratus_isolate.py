"""Linux isolation primitives for execution environments, used inside the zygote and its
children. Standard library only: it runs under the function's own interpreter (3.11 to 3.13).

Everything here is called as root, before the environment drops to its unprivileged uid.
"""

import ctypes
import os

# Loaded here, in the zygote and templates, not in each environment: a C extension's first import
# after fork is a dlopen through the fresh root, about 1 ms of every cold start.
import resource
import struct

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long

SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _b(value):
    return None if value is None else os.fsencode(value)


def mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def bind_readonly(source, target, *, nodev=True):
    mount(source, target, None, MS_BIND | MS_REC)
    extra = MS_NODEV if nodev else 0
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | extra)


def unshare(flags):
    _check(_libc.unshare(flags), "unshare")


def make_private():
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def pivot_root(new_root, put_old):
    machine = os.uname().machine
    nr = SYS_PIVOT_ROOT.get(machine)
    if nr is None:
        raise OSError(38, f"pivot_root: unsupported machine {machine}")
    _check(_libc.syscall(nr, _b(new_root), _b(put_old)), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(_b("/" + os.path.basename(put_old.rstrip("/"))), MNT_DETACH), "umount old root")


_pylibc = ctypes.PyDLL(None, use_errno=True)  # calls through it keep the GIL held
_pylibc.syscall.restype = ctypes.c_long
SYS_CLONE = {"x86_64": 56}
SIGCHLD = 17


def fork_into_new_pid_namespace(extra_flags=CLONE_NEWNET):
    """fork(), but the child is PID 1 of a new PID namespace and, by default, has a network
    namespace of its own, which exists as soon as its pid is known: the server sets it up from
    outside. A raw clone(), wrapped in the interpreter's own before/after-fork hooks as
    os.fork() does."""
    nr = SYS_CLONE.get(os.uname().machine)
    if nr is None:
        raise OSError(38, "clone: unsupported machine")
    ctypes.pythonapi.PyOS_BeforeFork()
    pid = _pylibc.syscall(nr, ctypes.c_ulong(CLONE_NEWPID | extra_flags | SIGCHLD), 0, 0, 0, 0)
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
        return 0
    errno = ctypes.get_errno()
    ctypes.pythonapi.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(errno, f"clone: {os.strerror(errno)}")
    return pid


def sethostname(name):
    data = name.encode()
    _check(_libc.sethostname(data, len(data)), "sethostname")


def prctl(option, arg2=0):
    _check(_libc.prctl(option, ctypes.c_ulong(arg2), 0, 0, 0), f"prctl {option}")


def close_fds_except(keep):
    """Close every file descriptor but 0, 1, 2 and those in `keep`. A forked process inherits
    whatever its parent held (the server's stdout, a launching shell's strays, the zygote's own
    sockets and pipes); only what it was meant to have may reach user code. os.closerange uses
    the close_range system call, so this costs the same however many fds are open."""
    low = 3
    for fd in sorted(f for f in set(keep) if f >= 3):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


# -- forking servers: the zygote and the templates ------------------------------------------------


class ChildWatch:
    """Waits on one control socket and on SIGCHLD, for a process that forks children and
    reports their exits to the server."""

    def __init__(self, sock, report_exit):
        import selectors
        import signal

        self._report_exit = report_exit
        self._selector = selectors.DefaultSelector()
        self._wakeup_r, self._wakeup_w = os.pipe()
        os.set_blocking(self._wakeup_r, False)
        os.set_blocking(self._wakeup_w, False)
        signal.set_wakeup_fd(self._wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self._selector.register(sock, selectors.EVENT_READ, "socket")
        self._selector.register(self._wakeup_r, selectors.EVENT_READ, "children")

    def wait(self):
        """Block until the socket is readable; children that exit meanwhile are reported."""
        while True:
            ready = [key.data for key, _ in self._selector.select()]
            if "children" in ready:
                try:
                    os.read(self._wakeup_r, 4096)
                except BlockingIOError:
                    pass
                self.reap()
            if "socket" in ready:
                return

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._report_exit(pid, os.waitstatus_to_exitcode(status))

    def close_in_child(self):
        """A forked child drops the watch: it is not the one that reports."""
        import signal

        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self._selector.close()
        os.close(self._wakeup_r)
        os.close(self._wakeup_w)


# -- running, and never returning ---------------------------------------------------------------


def run_then_exit(body):
    """Run `body` (the setup of a forked environment, then its runtime client) and end the
    process with its exit code, whatever happens: a forked child must never return into the
    code that forked it."""
    import sys
    import traceback

    code = 127
    try:
        body()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 127
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            client = sys.modules.get("runtime_client")
            if hasattr(client, "flush"):
                client.flush()  # a result still waiting to go with the next NEXT
        finally:
            os._exit(code)


def bind_channel(channel):
    """Make `channel` (a stratus_channel.RuntimeClient) the runtime client awslambdaric's
    already-imported lambda_runtime_client module calls: its functions look the module global
    `runtime_client` up at each call, so binding it is the whole of what reloading the module
    (about 1 ms of a cold start) did for the channel."""
    import sys

    import awslambdaric.lambda_runtime_client as client_module

    sys.modules["runtime_client"] = channel
    client_module.runtime_client = channel


def run_client(handler):
    """Hand over to the official runtime client with `handler`: awslambdaric's init and, on a
    private channel, Stratus's leaner invoke loop around awslambdaric's parts (stratus_loop)."""
    import sys

    import stratus_channel

    channel = sys.modules.get("runtime_client")
    if isinstance(channel, stratus_channel.RuntimeClient):
        import stratus_loop

        sys.argv = ["awslambdaric", handler]
        stratus_loop.run(handler, channel)
        return
    from awslambdaric.__main__ import main

    sys.argv = ["awslambdaric", handler]
    main(sys.argv)


# -- the template root ----------------------------------------------------------------------------

DEVICES = ("null", "zero", "full", "random", "urandom")


# Runtime paths that live under /tmp (a runtime cache put there, say): each environment's own
# tmpfs on /tmp would hide them, so they are bound back, read-only, on top of it.
KEEP_UNDER_TMP = []


def mount_private_tmp(prefix, size_mb):
    """A fresh tmpfs at prefix/tmp, with KEEP_UNDER_TMP bound back into it."""
    handles = [(path, os.open(prefix + path, os.O_PATH | os.O_DIRECTORY)) for path in KEEP_UNDER_TMP]
    mount("tmpfs", prefix + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(size_mb)}m,mode=1777")
    for path, fd in handles:
        os.makedirs(prefix + path, exist_ok=True)
        bind_readonly(f"/proc/self/fd/{fd}", prefix + path)
        os.close(fd)


def build_template_root(root, extra_paths):
    """A read-only root for every environment of this zygote: the host's /usr, a minimal /etc
    (build_etc), a few devices, the interpreter and runtime paths, and empty mount points for
    /var/task, /tmp and /proc, which each environment fills with its own."""
    mount("tmpfs", root, "tmpfs", MS_NOSUID, "mode=0755,size=4m")
    for sub in ("usr", "etc", "dev", "proc", "tmp", "var/task", "var/runtime/app", "opt", ".old"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    for name in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(root, name))
        elif os.path.isdir(host):
            os.makedirs(os.path.join(root, name), exist_ok=True)
            bind_readonly(host, os.path.join(root, name))
    bind_readonly("/usr", os.path.join(root, "usr"))
    build_etc(os.path.join(root, "etc"))
    for dev in DEVICES:
        target = os.path.join(root, "dev", dev)
        with open(target, "w"):
            pass
        mount("/dev/" + dev, target, None, MS_BIND)
    for name, link in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(link, os.path.join(root, "dev", name))
    for path in sorted(set(extra_paths)):
        if path.startswith(("/usr/", "/etc/")) or not os.path.isdir(path):
            continue
        if path.startswith("/tmp/"):
            KEEP_UNDER_TMP.append(path)
        target = os.path.join(root, path.lstrip("/"))
        os.makedirs(target, exist_ok=True)
        bind_readonly(path, target)
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID)


# -- a minimal /etc --------------------------------------------------------------------------------
# What Lambda's image has and runtimes read, and nothing else of the host's /etc: no shadow, ssh
# keys, machine-id or private keys. Host files are copied (small ones) or bound read-only
# (directories), each only if the host has it.
ETC_COPIES = (
    "resolv.conf",  # DNS works where the host's does
    "ld.so.cache",  # the dynamic linker's index of libraries
    "ld.so.conf",
    "services",  # getaddrinfo() with a service name
    "protocols",
    "timezone",
    "mime.types",  # Python's mimetypes
    "ssl/openssl.cnf",
    "pki/tls/openssl.cnf",
)
ETC_DIR_COPIES = ("ld.so.conf.d",)
# Symlinks kept as links: the timezone, os-release and every /usr/bin/java, /usr/bin/node...
# that goes through the alternatives system.
ETC_LINKS = ("localtime", "os-release", "mtab", "alternatives/*", "pki/tls/cert.pem")
# CA certificates (Python's ssl, Node with the system store, Java's cacerts on Debian through
# /usr/lib/jvm/*/lib/security/cacerts -> /etc/ssl/certs/java/cacerts) and the JDKs' own
# configuration (jvm.cfg and java.security, reached by links from /usr/lib/jvm on Debian).
ETC_BINDS = ("ssl/certs", "pki/ca-trust", "pki/tls/certs", "pki/java", "java-*", "java")
ENV_USER = "sbx_user1051"  # the name Lambda gives its functions' user
TEMPLATE_UIDS = 256  # a snapshot template's environments run as uids 1..255 of its namespace


def _etc_text():
    return {
        "passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
        "group": "root:x:0:\nnogroup:x:65534:\n",
        # Environments are named `stratus` (their UTS namespace's hostname).
        "hosts": "127.0.0.1\tlocalhost stratus\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        "nsswitch.conf": (
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n"
            "protocols: files\nservices: files\nethers: files\nrpc: files\n"
        ),
    }


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())


def _host_etc(pattern, host_etc):
    import glob

    return sorted(glob.glob(os.path.join(host_etc, pattern)))


def build_etc(target, host_etc="/etc"):
    """Fill `target` (an empty directory of the template root, before it turns read-only) with
    the minimal /etc: generated passwd, group, hosts and nsswitch.conf, and the host's files
    named above."""
    os.makedirs(target, exist_ok=True)
    for name, text in _etc_text().items():
        _write(os.path.join(target, name), text)
    for name in ETC_COPIES:
        source = os.path.join(host_etc, name)
        if os.path.isfile(source):
            with open(source, "rb") as f:
                _write(os.path.join(target, name), f.read())
    for name in ETC_DIR_COPIES:
        for source in _host_etc(name + "/*", host_etc):
            if os.path.isfile(source) and not os.path.islink(source):
                with open(source, "rb") as f:
                    _write(os.path.join(target, os.path.relpath(source, host_etc)), f.read())
    for pattern in ETC_LINKS:
        for source in _host_etc(pattern, host_etc):
            if os.path.islink(source):
                link = os.path.join(target, os.path.relpath(source, host_etc))
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(os.readlink(source), link)
    for pattern in ETC_BINDS:
        for source in _host_etc(pattern, host_etc):
            if os.path.isdir(source) and not os.path.islink(source):
                mount_point = os.path.join(target, os.path.relpath(source, host_etc))
                os.makedirs(mount_point, exist_ok=True)
                bind_readonly(source, mount_point)


def identity_text(uid):
    """passwd and group for an environment running as `uid`: root, nobody, the environment's own
    user first (so a lookup stops early), and the uids a snapshot template gives the
    environments it forks (they keep the /etc of the environment that became the template)."""
    users = [(uid, ENV_USER)] + [(n, f"sbx_snap{n}") for n in range(1, TEMPLATE_UIDS)]
    passwd = ["root:x:0:0:root:/root:/sbin/nologin"]
    group = ["root:x:0:"]
    for number, name in users:
        passwd.append(f"{name}:x:{number}:{number}::/home/{ENV_USER}:/sbin/nologin")
        group.append(f"{name}:x:{number}:")
    passwd.append("nobody:x:65534:65534:nobody:/:/sbin/nologin")
    group.append("nogroup:x:65534:")
    return {"passwd": "\n".join(passwd) + "\n", "group": "\n".join(group) + "\n"}


def mount_identity(root, uid):
    """In an environment's own mount namespace, before the pivot: its passwd and group over the
    template root's, so that getpwuid(getuid()) names it. They are written to a small tmpfs at
    the (empty) /.old mount point, bound read-only into /etc, and that tmpfs is detached again:
    the binds keep the files alive, and nothing of it stays writable."""
    scratch = os.path.join(root, ".old")
    mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755")
    try:
        for name, text in identity_text(uid).items():
            _write(os.path.join(scratch, name), text)
            bind_readonly(os.path.join(scratch, name), os.path.join(root, "etc", name))
    finally:
        _check(_libc.umount2(_b(scratch), MNT_DETACH), "umount identity scratch")


def prepare_environment(root, tmp_mb):
    """The function-independent part, in a freshly forked child (after joining its cgroups):
    own mount, IPC, UTS and cgroup namespaces, a private /tmp and its own /proc (both inside the
    template root)."""
    unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
    mount_private_tmp(root.rstrip("/"), tmp_mb)
    mount("proc", os.path.join(root, "proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def resize_tmp(root, tmp_mb):
    mount(None, os.path.join(root, "tmp"), None, MS_REMOUNT | MS_NOSUID | MS_NODEV, f"size={int(tmp_mb)}m")


def finish_environment(root, code_dir, hostname, opt_dir=None, app_dir=None):
    """The function's part: its code at /var/task, its layers at /opt and its runtime artifacts
    (a Java function's class archive) at /var/runtime/app, then pivot into the template root.
    Its network namespace was set up by the server (stratus/isolation/network.py)."""
    bind_readonly(code_dir, os.path.join(root, "var/task"))
    if opt_dir:
        bind_readonly(opt_dir, os.path.join(root, "opt"))
    if app_dir:
        bind_readonly(app_dir, os.path.join(root, "var/runtime/app"))
    pivot_root(root, os.path.join(root, ".old"))
    sethostname(hostname)


PR_CAPBSET_DROP = 24


# Lambda's limit on an environment's open files; the server's own (raised for many client
# connections) must not pass to functions.
NOFILE = 1024


def drop_privileges(uid):
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))
    # Empty the bounding set too, so nothing can ever bring a capability back.
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # a non-root uid loses every capability here
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    install_seccomp()


# -- seccomp ----------------------------------------------------------------------------------------

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# Syscalls an environment never needs: mounts and namespaces, kernel modules and kexec, reboot,
# tracing other processes, clocks, swap, keyrings, BPF and perf, raw handles, io_uring.
BLOCKED_X86_64 = (
    101,
    103,
    134,
    153,
    155,
    156,
    159,
    161,
    163,
    164,
    165,
    166,
    167,
    168,
    169,
    170,
    171,
    172,
    173,
    174,
    175,
    176,
    179,
    180,
    212,
    227,
    246,
    248,
    249,
    250,
    256,
    272,
    279,
    298,
    300,
    303,
    304,
    305,
    308,
    310,
    311,
    312,
    313,
    320,
    321,
    323,
    425,
    426,
    427,
    428,
    429,
    430,
    431,
    432,
    433,
    438,
    442,
)
SYS_CLONE_X86_64 = 56
SYS_CLONE3_X86_64 = 435

_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW = 0x7FFF0000
RET_KILL = 0x80000000
RET_EPERM = 0x00050000 | 1
RET_ENOSYS = 0x00050000 | 38


def _insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


# A template may still mount, unshare and clone namespaces (inside its own user namespace) to
# give each environment it forks its own; everything else stays refused.
TEMPLATE_ALLOWED = (165, 166, 272)


def seccomp_program(machine, relaxed=False):
    if machine != "x86_64":
        return None
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # arch
        _insn(_JEQ_K, 1, 0, AUDIT_ARCH[machine]),
        _insn(_RET_K, 0, 0, RET_KILL),
        _insn(_LD_W_ABS, 0, 0, 0),  # syscall number
        _insn(_JGE_K, 0, 1, 0x40000000),  # the x32 ABI: refused
        _insn(_RET_K, 0, 0, RET_EPERM),
        # clone3 cannot be inspected by seccomp; ENOSYS makes libc fall back to clone.
        _insn(_JEQ_K, 0, 1, SYS_CLONE3_X86_64),
        _insn(_RET_K, 0, 0, RET_ENOSYS),
    ]
    for nr in BLOCKED_X86_64:
        if relaxed and nr in TEMPLATE_ALLOWED:
            continue
        prog.append(_insn(_JEQ_K, 0, 1, nr))
        prog.append(_insn(_RET_K, 0, 0, RET_EPERM))
    if relaxed:
        prog.append(_insn(_RET_K, 0, 0, RET_ALLOW))
        return b"".join(prog)
    # clone: allowed for threads and processes, refused when it asks for new namespaces.
    prog += [
        _insn(_JEQ_K, 0, 3, SYS_CLONE_X86_64),
        _insn(_LD_W_ABS, 0, 0, 16),  # args[0], low 32 bits: the flags
        _insn(_JSET_K, 0, 1, NAMESPACE_FLAGS),
        _insn(_RET_K, 0, 0, RET_EPERM),
        _insn(_RET_K, 0, 0, RET_ALLOW),
    ]
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(relaxed=False):
    program = seccomp_program(os.uname().machine, relaxed)
    if program is None:
        return
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")
