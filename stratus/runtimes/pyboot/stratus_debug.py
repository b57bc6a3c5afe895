"""A debug environment's debugger (`stratus invoke NAME --debug`). Standard library only, until
it imports debugpy.

The server marks such an environment with the private variable _STRATUS_DEBUG (JSON: the port
to listen on and, where the environment sees the host's files, the directory holding debugpy);
on the Linux backend debugpy is in the environment's /opt/python, which is on the path already.
debugpy listens with its adapter in this process (no adapter subprocess), on the environment's
own loopback, where the server relays a host loopback port to it (invoke/debug_relay.py), and
waits (this is still the environment's init) until a client has attached or the wait is over.
"""

import json
import os
import sys


def start():
    raw = os.environ.pop("_STRATUS_DEBUG", "")
    if not raw:
        return
    settings = json.loads(raw)
    path = settings.get("path")
    if path and path not in sys.path:
        sys.path.append(path)
    # The interpreter's frozen modules make pydevd print a warning on every start; breakpoints
    # are in the function's files, never in those.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    import debugpy

    debugpy.listen(("127.0.0.1", int(settings["port"])), in_process_debug_adapter=True)
    os.environ.pop("PYDEVD_DISABLE_FILE_VALIDATION", None)
    wait = float(settings.get("wait") or 0)
    if wait > 0:
        _wait_for_client(debugpy, wait)


def _wait_for_client(debugpy, seconds):
    """debugpy's own wait: it returns once the client's configuration is done (its breakpoints
    applied), or when the wait is cancelled after `seconds`, and then the runtime goes on."""
    import threading

    done = threading.Event()

    def give_up():
        if not done.wait(seconds):
            try:
                debugpy.wait_for_client.cancel()
            except RuntimeError:  # not waiting yet: cannot happen after `seconds`, but harmless
                pass

    threading.Thread(target=give_up, name="stratus-debug-wait", daemon=True).start()
    try:
        debugpy.wait_for_client()
    finally:
        done.set()
