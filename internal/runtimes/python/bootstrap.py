"""The runtime interface client of ember's managed Python runtimes.

ember starts it as ``INTERPRETER /var/runtime/python/bootstrap.py [OPT_DIR]``.
It loads the function's handler (``_HANDLER``) from ``LAMBDA_TASK_ROOT`` the
way Lambda's Python runtime does, reports a failed load to
``/runtime/init/error``, then serves invocations over the Runtime API
(2018-06-01) at ``AWS_LAMBDA_RUNTIME_API`` until the process is stopped.

It is one file that uses the standard library only, so that nothing of it
can shadow a module of the function's, and it runs on Python 3.9 and later.
"""

import importlib
import json
import logging
import os
import socket
import sys
import time
import traceback

# The file the client runs from, as the interpreter names it in tracebacks.
_OWN_FILE = (lambda: None).__code__.co_filename

_API_PREFIX = "/2018-06-01/runtime"

# Error types of Lambda's Python runtime.
_IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
_BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
_MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
_HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
_USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
_MARSHAL_ERROR = "Runtime.MarshalError"
_UNMARSHAL_ERROR = "Runtime.UnmarshalError"

# The request id the logging filter stamps on every record; empty during init.
_request_id = ""


class _Fault(Exception):
    """An error found by the runtime itself, with Lambda's type for it."""

    def __init__(self, error_type, message, trace=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


# --- The Runtime API over one kept-alive HTTP/1.1 connection. -------------


class _RuntimeAPI:
    """A small HTTP/1.1 client for the Runtime API: one connection, reused
    for every call, opened again once if the server has closed it."""

    def __init__(self, address):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError("AWS_LAMBDA_RUNTIME_API is %r, not host:port" % address)
        self._addr = (host.strip("[]"), int(port))
        self._host = address.encode("ascii")
        self._next_request = (
            b"GET " + _API_PREFIX.encode() + b"/invocation/next HTTP/1.1\r\nHost: " + self._host + b"\r\n\r\n"
        )
        self._sock = None
        self._rfile = None

    def _connect(self):
        sock = socket.create_connection(self._addr)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._rfile = sock.makefile("rb")

    def _close(self):
        if self._sock is not None:
            try:
                self._rfile.close()
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._rfile = None

    def _roundtrip(self, head, body=b""):
        """Sends one request and returns (status, headers, body).

        A kept connection that the server closed while idle is opened again
        once: the request never reached the server then. A server that
        answers before it has read the whole request (a body too large) and
        closes the connection is answered as it said."""
        for attempt in (1, 2):
            fresh = self._sock is None
            if fresh:
                self._connect()
            try:
                self._send(head, body)
            except OSError:
                try:
                    response = self._read_response()
                except (OSError, _StaleConnection):
                    self._close()
                    if fresh or attempt == 2:
                        raise ConnectionError("the runtime API closed the connection")
                    continue
                self._close()
                return response
            try:
                return self._read_response()
            except _StaleConnection:
                self._close()
                if fresh or attempt == 2:
                    raise ConnectionError("the runtime API closed the connection")
            except OSError:
                self._close()
                raise
        raise ConnectionError("the runtime API closed the connection")

    def _send(self, head, body):
        if len(body) < 65536:
            self._sock.sendall(head + body if body else head)
        else:
            # No copy of a large body.
            self._sock.sendall(head)
            self._sock.sendall(body)

    def _read_response(self):
        rfile = self._rfile
        try:
            line = rfile.readline(65537)
        except ConnectionResetError:
            line = b""
        if not line:
            raise _StaleConnection()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            self._close()
            raise ConnectionError("bad status line from the runtime API: %r" % line)
        status = int(parts[1])
        headers = {}
        while True:
            line = rfile.readline(65537)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                self._close()
                raise ConnectionError("the runtime API closed the connection in a response")
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get(b"content-length")
        if length is not None:
            n = int(length)
            body = rfile.read(n) if n else b""
            if len(body) != n:
                self._close()
                raise ConnectionError("the runtime API closed the connection in a response")
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = self._read_chunked()
        elif status in (204, 304) or status < 200:
            body = b""
        else:
            body = rfile.read()
            self._close()
            return status, headers, body
        if headers.get(b"connection", b"").lower() == b"close":
            self._close()
        return status, headers, body

    def _read_chunked(self):
        rfile = self._rfile
        chunks = []
        while True:
            line = rfile.readline(65537)
            if not line:
                self._close()
                raise ConnectionError("the runtime API closed the connection in a response")
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the blank line
                    line = rfile.readline(65537)
                    if line in (b"\r\n", b"\n", b""):
                        return b"".join(chunks)
            chunk = rfile.read(size)
            rfile.readline(65537)
            if len(chunk) != size:
                self._close()
                raise ConnectionError("the runtime API closed the connection in a response")
            chunks.append(chunk)

    def _post(self, path, body, content_type, extra=b""):
        head = b"".join(
            (
                b"POST ",
                path.encode("utf-8"),
                b" HTTP/1.1\r\nHost: ",
                self._host,
                b"\r\nContent-Type: ",
                content_type,
                b"\r\n",
                extra,
                b"Content-Length: ",
                str(len(body)).encode(),
                b"\r\n\r\n",
            )
        )
        return self._roundtrip(head, body)

    def next(self):
        status, headers, body = self._roundtrip(self._next_request)
        if status != 200:
            raise ConnectionError("GET /runtime/invocation/next: HTTP %d %s" % (status, _text(body)))
        return headers, body

    def post_response(self, request_id, body, content_type):
        path = _API_PREFIX + "/invocation/" + _quote(request_id) + "/response"
        self._answered(self._post(path, body, content_type))

    def post_error(self, request_id, body):
        path = _API_PREFIX + "/invocation/" + _quote(request_id) + "/error"
        self._answered(self._post(path, body, b"application/json"))

    def post_init_error(self, error_type, body):
        extra = b"Lambda-Runtime-Function-Error-Type: " + _header_value(error_type) + b"\r\n"
        self._answered(self._post(_API_PREFIX + "/init/error", body, b"application/json", extra))

    @staticmethod
    def _answered(response):
        """Lets the loop go on after an answer the server refused (a 4xx,
        such as a response too large, has failed the invocation already),
        and stops the runtime on a 5xx: the environment cannot go on."""
        status, _, body = response
        if status >= 500:
            raise ConnectionError("the runtime API failed: HTTP %d %s" % (status, _text(body)))


class _StaleConnection(Exception):
    """The server closed a kept connection before answering."""


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(segment):
    """Percent-encodes a path segment; request ids are UUIDs, which pass
    unchanged."""
    if all(c in _UNRESERVED for c in segment):
        return segment
    return "".join(c if c in _UNRESERVED else "".join("%%%02X" % b for b in c.encode()) for c in segment)


def _text(body):
    return body[:512].decode("utf-8", "replace")


def _header_value(value):
    return value.encode("utf-8", "replace").replace(b"\r", b" ").replace(b"\n", b" ")


# --- JSON as Lambda's Python runtime writes it. ---------------------------


class _Marshaller:
    """Encodes results and error bodies as Lambda's Python runtime does:
    json.dumps spacing, NaN and Infinity allowed, decimal.Decimal values
    written as their exact digits, and (from Python 3.12) non-ASCII
    characters written as themselves rather than escaped."""

    def __init__(self):
        self._decimals = []
        # A marker no real string carries, swapped for a Decimal's digits.
        self._marker = "\x00ember-decimal-%s-" % os.urandom(8).hex()
        self._encoder = json.JSONEncoder(ensure_ascii=sys.version_info < (3, 12), allow_nan=True, default=self._default)

    def _default(self, obj):
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            self._decimals.append(str(obj))
            return self._marker + str(len(self._decimals) - 1)
        raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)

    def encode(self, obj):
        try:
            text = self._encoder.encode(obj)
            if self._decimals:
                marker = self._encoder.encode(self._marker)[:-1]
                for i, digits in enumerate(self._decimals):
                    text = text.replace(marker + str(i) + '"', digits, 1)
            return text
        finally:
            if self._decimals:
                self._decimals = []

    def response(self, result):
        """The body and content type of a handler's result."""
        if isinstance(result, bytes):
            return result, b"application/unknown"
        try:
            text = self.encode(result)
        except Exception as e:
            raise _Fault(_MARSHAL_ERROR, "Unable to marshal response: %s" % e)
        return _utf8(text), b"application/json"

    def error(self, message, error_type, trace, request_id):
        body = {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}
        return _utf8(self.encode(body))


def _utf8(text):
    # A lone surrogate becomes its JSON escape, as ensure_ascii writes it.
    return text.encode("utf-8", "backslashreplace")


def _event(body, content_type):
    """The handler's event: the payload decoded from JSON, or its raw bytes
    when it was sent as another content type."""
    if content_type:
        media = content_type.split(b";", 1)[0].strip().lower()
        if media != b"application/json":
            return body
    try:
        return json.loads(body)
    except Exception as e:
        raise _Fault(_UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % e)


# --- The context object. ---------------------------------------------------


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __repr__(self):
        return "Client([%s])" % ",".join("%s=%s" % (k, getattr(self, k)) for k in self.__slots__)


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (self.custom, self.env, self.client)


def _from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    get = d.get if isinstance(d, dict) else (lambda k: None)
    for field in cls.__slots__:
        setattr(obj, field, get(field))
    return obj


class LambdaContext:
    """The context object Lambda's Python runtime passes to handlers. It
    takes attributes of the function's own, as Lambda's does."""

    def get_remaining_time_in_millis(self):
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
            "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,identity=%s,"
            "tenant_id=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


def _header_str(headers, name):
    value = headers.get(name)
    return None if value is None else value.decode("utf-8", "replace")


def _json_header(headers, name):
    value = headers.get(name)
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


class _Function:
    """What every context of this environment shares, read once at init."""

    def __init__(self, environ):
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as Lambda's Python runtime gives it.
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")

    def context(self, request_id, headers):
        ctx = LambdaContext()
        ctx.aws_request_id = request_id
        ctx.log_group_name = self.log_group_name
        ctx.log_stream_name = self.log_stream_name
        ctx.function_name = self.function_name
        ctx.memory_limit_in_mb = self.memory_limit_in_mb
        ctx.function_version = self.function_version
        ctx.invoked_function_arn = _header_str(headers, b"lambda-runtime-invoked-function-arn")
        ctx.tenant_id = _header_str(headers, b"lambda-runtime-aws-tenant-id")
        deadline = headers.get(b"lambda-runtime-deadline-ms")
        ctx._epoch_deadline_time_in_ms = int(deadline) if deadline else 0

        identity = CognitoIdentity()
        cognito = _json_header(headers, b"lambda-runtime-cognito-identity")
        if not isinstance(cognito, dict):
            cognito = {}
        identity.cognito_identity_id = cognito.get("cognitoIdentityId")
        identity.cognito_identity_pool_id = cognito.get("cognitoIdentityPoolId")
        ctx.identity = identity

        client_context = None
        if b"lambda-runtime-client-context" in headers:
            raw = _json_header(headers, b"lambda-runtime-client-context")
            client_context = _from_dict(ClientContext, raw if isinstance(raw, dict) else {})
            client_context.client = _from_dict(Client, client_context.client)
        ctx.client_context = client_context
        return ctx


# --- Logs. -----------------------------------------------------------------


class _RequestIdFilter(logging.Filter):
    """Stamps records with the request id of the invocation in flight as
    aws_request_id, for Lambda's format and for the function's own."""

    def filter(self, record):
        record.aws_request_id = _request_id
        return True


class _LambdaLoggerHandler(logging.Handler):
    """Writes records to stdout, where every line reaches the function's
    log."""

    def emit(self, record):
        try:
            msg = self.format(record)
            if not msg.endswith("\n"):
                msg += "\n"
            out = sys.stdout
            out.write(msg)
            out.flush()
        except Exception:
            self.handleError(record)


# Lambda's text format; the date is UTC, the milliseconds added by hand.
_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
}


def _setup_logging(environ):
    formatter = logging.Formatter(_LOG_FORMAT, _LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    handler = _LambdaLoggerHandler()
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = _LOG_LEVELS.get(environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if level is not None:
        root.setLevel(level)


def _setup_stdio():
    """Line-buffers stdout and stderr, as the pipe to ember would otherwise
    hold print() output back."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except (AttributeError, ValueError):
            pass


def _flush_stdio():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _log_error(error_type, message, trace):
    """Writes an error to the log as Lambda's Python runtime does:
    "[ERROR] Type: message", then the traceback."""
    head = "[ERROR]"
    if error_type:
        head += " " + error_type
    if message:
        if error_type:
            head += ":"
        head += " " + message
    lines = [head, "Traceback (most recent call last):"]
    for item in trace:
        lines.extend(item.splitlines())
    try:
        out = sys.stdout
        out.write("\n".join(lines) + "\n")
        out.flush()
    except Exception:
        pass


# --- Errors as Lambda reports them. ----------------------------------------


def _user_trace(exc):
    """The formatted frames of exc's traceback, less the client's own
    frames at its start."""
    frames = traceback.extract_tb(exc.__traceback__)
    for i, frame in enumerate(frames):
        if frame.filename != _OWN_FILE:
            frames = frames[i:]
            break
    return traceback.format_list(frames)


def _describe(exc):
    """(errorType, errorMessage, stackTrace) of an exception."""
    if isinstance(exc, _Fault):
        return exc.error_type, exc.message, exc.trace
    try:
        message = str(exc)
    except Exception:
        message = "<exception str() failed>"
    return type(exc).__name__, message, _user_trace(exc)


# --- Loading the handler. --------------------------------------------------


def _set_path(task_root, opt_dir):
    """Puts sys.path in Lambda's order: the function's code, the layers'
    site-packages and python directories, the runtime's own directory, then
    the interpreter's defaults."""
    own_dir = os.path.dirname(os.path.abspath(_OWN_FILE))
    version = "python%d.%d" % sys.version_info[:2]
    front = [
        task_root,
        os.path.join(opt_dir, "python", "lib", version, "site-packages"),
        os.path.join(opt_dir, "python"),
        own_dir,
    ]
    rest = [p for p in sys.path if p not in front and os.path.abspath(p or ".") != own_dir]
    sys.path[:] = front + rest


def _load_handler(handler):
    """Imports the handler's module and returns the handler, or raises a
    _Fault with the error Lambda gives for a handler that cannot load.
    Other exceptions of the module's own code pass through."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault(_MALFORMED_HANDLER_NAME, "Bad handler '%s': %s" % (handler, e))
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault(_BUILT_IN_MODULE_CONFLICT, "Cannot use built-in module %s as a handler module" % modname)
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise _Fault(_IMPORT_MODULE_ERROR, "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise _Fault(_USER_CODE_SYNTAX_ERROR, "Syntax error in module '%s': %s" % (modname, e), trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault(_HANDLER_NOT_FOUND, "Handler '%s' missing on module '%s'" % (fname, modname))


# --- The invoke loop. ------------------------------------------------------


def _serve(api, handler, function, marshaller):
    global _request_id
    environ = os.environ
    while True:
        headers, body = api.next()
        request_id = headers.get(b"lambda-runtime-aws-request-id", b"").decode("utf-8", "replace")
        _request_id = request_id
        trace_id = headers.get(b"lambda-runtime-trace-id")
        if trace_id:
            environ["_X_AMZN_TRACE_ID"] = trace_id.decode("utf-8", "replace")
        elif "_X_AMZN_TRACE_ID" in environ:
            del environ["_X_AMZN_TRACE_ID"]
        try:
            event = _event(body, headers.get(b"content-type"))
            result = handler(event, function.context(request_id, headers))
            payload, content_type = marshaller.response(result)
        except Exception as e:
            error_type, message, trace = _describe(e)
            _log_error(error_type, message, trace)
            api.post_error(request_id, marshaller.error(message, error_type, trace, request_id))
        else:
            api.post_response(request_id, payload, content_type)
        _flush_stdio()


def main(argv):
    environ = os.environ
    opt_dir = argv[1] if len(argv) > 1 else "/opt"
    _set_path(environ.get("LAMBDA_TASK_ROOT", "/var/task"), opt_dir)
    _setup_stdio()
    try:
        api = _RuntimeAPI(environ.get("AWS_LAMBDA_RUNTIME_API", ""))
    except ValueError as e:
        sys.stderr.write("ember python runtime: %s\n" % e)
        return 1
    marshaller = _Marshaller()
    _setup_logging(environ)
    try:
        handler = _load_handler(environ.get("_HANDLER", ""))
    except Exception as e:
        error_type, message, trace = _describe(e)
        _log_error(error_type, message, trace)
        _flush_stdio()
        try:
            api.post_init_error(error_type, marshaller.error(message, error_type, trace, ""))
        except OSError as e:
            sys.stderr.write("ember python runtime: %s\n" % e)
        return 1
    function = _Function(environ)
    try:
        _serve(api, handler, function, marshaller)
    except OSError as e:
        _flush_stdio()
        sys.stderr.write("ember python runtime: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
