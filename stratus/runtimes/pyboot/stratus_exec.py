"""Start a custom runtime (`provided.*`): exec the function's `bootstrap`, or tell the Runtime
API why not, as Lambda does, and exit. Standard library only: it runs under the runtime's
interpreter, in the confined environment, just before the bootstrap replaces it."""

import http.client
import json
import os
import sys

ERROR_TYPE = "Runtime.InvalidEntrypoint"


def report(message):
    """Post an init error; the platform answers the pending invoke with it."""
    body = json.dumps({"errorMessage": message, "errorType": ERROR_TYPE}).encode()
    try:
        conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"], timeout=5)
        conn.request(
            "POST",
            "/2018-06-01/runtime/init/error",
            body=body,
            headers={"Lambda-Runtime-Function-Error-Type": ERROR_TYPE, "Content-Type": "application/json"},
        )
        conn.getresponse().read()
    except (OSError, KeyError, http.client.HTTPException):
        pass  # the exit is reported anyway
    print(f"{ERROR_TYPE}: {message}", file=sys.stderr, flush=True)


CHANNEL_ENV = "_STRATUS_CHANNEL_FD"


def _only_stdio(keep=None):
    """The runtime that replaces this process gets fds 0-2 and nothing else but `keep`, the
    private channel it speaks, if any (closing is cheap: os.closerange uses close_range)."""
    if keep is None:
        os.closerange(3, 1 << 20)
    else:
        os.closerange(3, keep)
        os.closerange(keep + 1, 1 << 20)
        os.set_inheritable(keep, True)
        os.environ[CHANNEL_ENV] = str(keep)
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))  # Lambda's open-file limit


def run(candidates):
    """Never returns: the first bootstrap that exists replaces this process."""
    _only_stdio()
    for path in candidates:
        if os.path.isfile(path):
            try:
                os.execv(path, [path])
            except OSError as e:
                report(f"fork/exec {path}: {(e.strerror or str(e)).lower()}")
                sys.exit(1)
    report(f"Couldn't find valid bootstrap(s): [{' '.join(candidates)}]")
    sys.exit(1)


def run_argv(argv, channel_fd=None):
    """Never returns: exec a runtime client (node with Stratus's Node client, say), with the
    private channel's fd when it speaks it."""
    _only_stdio(channel_fd)
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        report(f"fork/exec {argv[0]}: {(e.strerror or str(e)).lower()}")
        sys.exit(1)


if __name__ == "__main__":
    run(sys.argv[1:])
