"""The invoke loop of a Python environment on the private channel. Standard library only (it
runs under the function's own interpreter, next to awslambdaric).

awslambdaric's `bootstrap.run` does, per invoke: wrap the channel's headers in an
InvocationRequest, set the trace id, build a LambdaContext (five environment reads through
`os.environ`), decode the event, call the handler, encode the result and post it; on 3.12 and
later it also starts a thread per invoke to wait for the next event (the native client blocks
in C, where signals wait). Inside an environment that is most of the CPU an invoke costs, and
an environment's caches are cold when it wakes (dozens of them share two cores with the
server), so every bytecode counts several times over.

This loop does the same work with less in between, and is awslambdaric wherever it matters:
- init is `bootstrap.run`'s own sequence, calling bootstrap's functions (log sink, logging
  setup, preview warning, handler resolution and its Runtime.* errors, init error posted over
  HTTP, SnapStart hooks, whose failures are posted over HTTP; `restore/next` is not asked:
  see `_restored`);
- the context is awslambdaric's LambdaContext, with the attributes its constructor sets, in
  its order; with a client context or a Cognito identity header, the constructor itself runs;
- the event and the result go through the client's marshaller (the class attribute users may
  replace), so Runtime.UnmarshalError and Runtime.MarshalError are awslambdaric's;
- an error becomes awslambdaric's document (`make_error`, the same stack trace: the frames from
  the first one that is neither this loop's nor bootstrap's) and is logged with `log_error`;
- the request id and tenant id go into bootstrap's globals (its logging filter reads them) and
  the trace id into `os.environ` (`_X_AMZN_TRACE_ID`), as `update_xray_env_variable` does.
Waiting for the next event is a blocking read of the channel in the main thread: signals are
handled there (PEP 475), which is what awslambdaric's polling thread is for.

If user code replaces one of the bootstrap functions, LambdaContext's constructor or the
marshaller (an APM agent wrapping `handle_event_request`, say), that invoke runs through
awslambdaric's own `handle_event_request` instead.
"""

import os
import sys


def run(handler, channel):
    """Run the handler's environment over `channel` (a stratus_channel.RuntimeClient, installed
    as awslambdaric's `runtime_client`). Never returns normally."""
    from awslambdaric import bootstrap
    from awslambdaric.lambda_config import LambdaConfigProvider
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    config = LambdaConfigProvider(["awslambdaric", handler])
    if config.is_multi_concurrent:  # not a mode the channel serves: awslambdaric's own way
        from awslambdaric.__main__ import main

        main(["awslambdaric", handler])
        return
    # Init errors and SnapStart's restore calls go over HTTP, as awslambdaric makes them.
    client = LambdaRuntimeClient(config.api_address, config.use_thread_polling)
    b = bootstrap
    sys.stdout = b.Unbuffered(sys.stdout)
    sys.stderr = b.Unbuffered(sys.stderr)
    with b.create_log_sink() as log_sink:
        error_result = None
        try:
            b._setup_logging(b._AWS_LAMBDA_LOG_FORMAT, b._AWS_LAMBDA_LOG_LEVEL, log_sink)
            b._log_preview_runtime_warning()
            request_handler = b._get_handler(config.handler)
        except b.FaultException as e:
            error_result = b.make_error(e.msg, e.exception_type, e.trace)
        except Exception:
            error_result = b.build_fault_result(sys.exc_info(), None)
        if error_result is not None:
            import logging

            from awslambdaric.lambda_literals import lambda_unhandled_exception_warning_message

            logging.warning(lambda_unhandled_exception_warning_message)
            b.log_error(error_result, log_sink)
            client.post_init_error(error_result)
            sys.exit(1)
        if os.environ.get(b.AWS_LAMBDA_INITIALIZATION_TYPE) == b.INIT_TYPE_SNAP_START:
            _restored(b, client, log_sink)
        _serve(b, client, channel, request_handler, log_sink)


def _restored(b, client, log_sink):
    """bootstrap.on_init_complete without its `restore/next` request: the before-snapshot and
    after-restore hooks run, and their failures are posted and end the environment, as there.
    Stratus answers `restore/next` at once (an environment forked from its template is restored
    already), so the request decided nothing, and its HTTP round trip over a new connection was
    the larger part of a SnapStart cold start (2 to 12 ms of about 10)."""
    from awslambdaric import lambda_runtime_hooks_runner as hooks

    try:
        hooks.run_before_snapshot()
    except:  # noqa: E722 -- as bootstrap: anything a hook raises is reported
        error_result = b.build_fault_result(sys.exc_info(), None)
        b.log_error(error_result, log_sink)
        client.post_init_error(error_result, b.FaultException.BEFORE_SNAPSHOT_ERROR)
        sys.exit(64)
    try:
        hooks.run_after_restore()
    except:  # noqa: E722
        error_result = b.build_fault_result(sys.exc_info(), None)
        b.log_error(error_result, log_sink)
        client.report_restore_error(error_result)
        sys.exit(65)


def _serve(b, client, channel, request_handler, log_sink):
    from awslambdaric import lambda_context, lambda_runtime_marshaller
    from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller

    LambdaContext = lambda_context.LambdaContext
    CognitoIdentity = lambda_context.CognitoIdentity
    new_context = LambdaContext.__new__
    originals = (
        b.handle_event_request,
        b.update_xray_env_variable,
        b.create_lambda_context,
        LambdaContext.__init__,
        LambdaMarshaller.unmarshal_request,
        LambdaMarshaller.marshal_response,
    )
    FaultException = b.FaultException
    UNMARSHAL_ERROR, MARSHAL_ERROR = FaultException.UNMARSHAL_ERROR, FaultException.MARSHAL_ERROR
    next_event = channel.next
    post_result = channel.post_invocation_result
    settings = _Settings()
    trace_variable = TraceVariable()
    while True:
        body, headers = next_event()
        get = headers.get
        invoke_id = get("Lambda-Runtime-Aws-Request-Id")
        tenant_id = get("Lambda-Runtime-Aws-Tenant-Id")
        b._GLOBAL_AWS_REQUEST_ID = invoke_id
        b._GLOBAL_TENANT_ID = tenant_id
        marshaller = client.marshaller
        if (
            b.handle_event_request,
            b.update_xray_env_variable,
            b.create_lambda_context,
            LambdaContext.__init__,
            type(marshaller).unmarshal_request,
            type(marshaller).marshal_response,
        ) != originals or not isinstance(marshaller, LambdaMarshaller):
            b.update_xray_env_variable(get("Lambda-Runtime-Trace-Id"))
            b.handle_event_request(
                client,
                request_handler,
                invoke_id,
                body,
                get("Content-Type"),
                get("Lambda-Runtime-Client-Context"),
                get("Lambda-Runtime-Cognito-Identity"),
                get("Lambda-Runtime-Invoked-Function-Arn"),
                get("Lambda-Runtime-Deadline-Ms"),
                tenant_id,
                log_sink,
                get("Lambda-Runtime-Invocation-Id"),
            )
            continue
        environ = os.environ  # looked up each time, as awslambdaric does
        trace_id = get("Lambda-Runtime-Trace-Id")
        if trace_id is not None:
            trace_variable.set(environ, trace_id)
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]
        client_context = get("Lambda-Runtime-Client-Context")
        cognito_identity = get("Lambda-Runtime-Cognito-Identity")
        try:
            if client_context or cognito_identity:
                context = b.create_lambda_context(
                    client_context,
                    cognito_identity,
                    get("Lambda-Runtime-Deadline-Ms"),
                    invoke_id,
                    get("Lambda-Runtime-Invoked-Function-Arn"),
                    tenant_id,
                )
            else:
                # What LambdaContext.__init__ sets without a client context or identity, in
                # its order (vars(context) lists them so).
                group, stream, name, memory, version = settings.read(environ)
                identity = CognitoIdentity()
                identity.cognito_identity_id = None
                identity.cognito_identity_pool_id = None
                context = new_context(LambdaContext)
                context.__dict__ = {
                    "aws_request_id": invoke_id,
                    "log_group_name": group,
                    "log_stream_name": stream,
                    "function_name": name,
                    "memory_limit_in_mb": memory,
                    "function_version": version,
                    "invoked_function_arn": get("Lambda-Runtime-Invoked-Function-Arn"),
                    "tenant_id": tenant_id,
                    "_w3c_fields": {},
                    "client_context": None,
                    "identity": identity,
                    "_epoch_deadline_time_in_ms": get("Lambda-Runtime-Deadline-Ms"),
                }
            # LambdaMarshaller's two methods (unreplaced: checked above), without the calls.
            if get("Content-Type") != "application/json":
                event = body
            else:
                try:
                    event = lambda_runtime_marshaller.json.loads(body)
                except Exception as e:  # raised as LambdaMarshaller raises it (chained, no `from`)
                    message = "Unable to unmarshal input: {}".format(str(e))
                    raise FaultException(UNMARSHAL_ERROR, message, None)  # noqa: B904
            response = request_handler(event, context)
            if isinstance(response, bytes):
                result, content_type = response, "application/unknown"
            else:
                try:
                    result, content_type = marshaller.jsonEncoder.encode(response), "application/json"
                except Exception as e:
                    message = "Unable to marshal response: {}".format(str(e))
                    raise FaultException(MARSHAL_ERROR, message, None)  # noqa: B904
        except FaultException as e:
            error_result = b.make_error(e.msg, e.exception_type, e.trace, invoke_id)
            b.log_error(error_result, log_sink)
            channel.post_error(invoke_id, b.to_json(error_result))
            continue
        except Exception:
            error_result = _fault(b, invoke_id)
            b.log_error(error_result, log_sink)
            channel.post_error(invoke_id, b.to_json(error_result))
            continue
        post_result(
            invoke_id,
            result if isinstance(result, bytes) else result.encode("utf-8"),
            content_type,
            get("Lambda-Runtime-Invocation-Id"),
        )


class TraceVariable:
    """Sets _X_AMZN_TRACE_ID as `os.environ[...] = value` does (the mapping, and the C
    environment that getenv and child processes see), without glibc's setenv: that keeps a copy
    of every distinct value ever set for the life of the process (it cannot know whether an
    old one is still referenced), and every invoke brings a new trace id: about 160 bytes per
    invoke, so a busy environment's memory grew without end. The C environment's entry is one
    buffer of ours instead (putenv keeps the pointer), rewritten in place. A value that does not
    fit, or an environment that is not the process's own mapping, goes through os.environ."""

    NAME = "_X_AMZN_TRACE_ID"
    CAPACITY = 1024

    def __init__(self):
        import ctypes

        self._ctypes = ctypes
        self._libc = ctypes.CDLL(None)
        self._libc.getenv.restype = ctypes.c_void_p
        self._libc.getenv.argtypes = [ctypes.c_char_p]
        self._libc.putenv.argtypes = [ctypes.c_void_p]
        prefix = self.NAME.encode() + b"="
        self._buffer = ctypes.create_string_buffer(prefix, len(prefix) + self.CAPACITY + 1)
        self._value_at = ctypes.addressof(self._buffer) + len(prefix)

    def set(self, environ, value):
        if type(environ) is not os._Environ or type(value) is not str:
            environ[self.NAME] = value
            return
        encoded = environ.encodevalue(value)
        if len(encoded) > self.CAPACITY or b"\0" in encoded:
            environ[self.NAME] = value  # as os.environ does it (and refuses a NUL byte)
            return
        key = environ.encodekey(self.NAME)
        self._ctypes.memmove(self._value_at, encoded + b"\0", len(encoded) + 1)
        # Ours unless something since replaced or removed the entry (a del when no trace id
        # came, or the handler's own os.environ): then it is put back.
        if self._libc.getenv(key) != self._value_at and self._libc.putenv(self._buffer) != 0:
            environ[self.NAME] = value
            return
        environ._data[key] = encoded


class _Settings:
    """The five variables LambdaContext reads, read as `os.environ.get` does: through the
    mapping's own byte dictionary and decoder when it is the process's `_Environ` (the
    handler may change them: they are read again every invoke), through `get` otherwise."""

    NAMES = (
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
    )

    def __init__(self):
        self._environ = None
        self._keys = ()

    def read(self, environ):
        if environ is not self._environ:
            self._environ = environ
            exact = type(environ) is os._Environ
            self._keys = tuple(map(environ.encodekey, self.NAMES)) if exact else ()
        if not self._keys:
            return tuple(map(environ.get, self.NAMES))
        get, decode = environ._data.get, environ.decodevalue
        group, stream, name, memory, version = map(get, self._keys)
        return (
            None if group is None else decode(group),
            None if stream is None else decode(stream),
            None if name is None else decode(name),
            None if memory is None else decode(memory),
            None if version is None else decode(version),
        )


def _fault(b, invoke_id):
    """awslambdaric's document for an exception out of the handler (or the context's
    constructor): its stack trace starts at the first frame below bootstrap's own."""
    import traceback

    etype, value, tb = sys.exc_info()
    tb_tuples = b.extract_traceback(tb)
    here = _fault.__code__.co_filename
    for i, frame in enumerate(tb_tuples):
        if frame[0] != here and "/bootstrap.py" not in frame[0]:
            tb_tuples = tb_tuples[i:]
            break
    else:
        # Nothing but this loop's frame: the handler is not a Python function (a builtin, or
        # not callable). awslambdaric shows its own frame, the line that called the handler.
        tb_tuples = [_bootstrap_call_frame(b) if frame[0] == here else frame for frame in tb_tuples]
    return b.make_error(str(value), etype.__name__, traceback.format_list(tb_tuples), invoke_id)


def _bootstrap_call_frame(b):
    import linecache

    code = b.handle_event_request.__code__
    lines = linecache.getlines(code.co_filename)
    for lineno in range(code.co_firstlineno, len(lines) + 1):
        text = lines[lineno - 1]
        if "request_handler(event, lambda_context)" in text:
            return (code.co_filename, lineno, code.co_name, text.strip())
    return (code.co_filename, code.co_firstlineno, code.co_name, "")
