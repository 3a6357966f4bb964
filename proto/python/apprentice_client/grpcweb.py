"""A gRPC-Web client for the apprentice daemon, on the standard library only (http.client).

    client = Client("127.0.0.1:47820")
    session = client.open_session({"document_id": doc_id, "header": {"width": 800, "height": 600}})
    client.append_ops({"session_id": session["session_id"], "sequence": 0, "ops": ops})
    with client.continue_({"session_id": session["session_id"], "count": 20}) as stream:
        for event in stream:      # each event arrives as soon as the daemon has painted it
            paint(event["op"])    # stream.close() (from any thread) cancels the call

Every method of the service in schema.py is a method of Client, named in snake_case
(OpenSession -> open_session; Continue -> continue_, as `continue` is a keyword). Requests and
responses are dicts (see wire.py). A call that fails raises RpcError; a daemon that cannot be
reached raises DaemonUnavailable, an RpcError with code UNAVAILABLE.

The calls speak gRPC-Web (application/grpc-web+proto) over HTTP/1.1, one connection per call,
so a Client can be shared between threads. gRPC-Web has no client or bidirectional streaming;
the apprentice service uses neither.
"""

import base64
import contextlib
import http.client
import keyword
import math
import re
import socket
import struct
import threading
import urllib.parse

from . import schema, wire

__all__ = ["DEFAULT_ADDRESS", "STATUS_CODES", "Client", "DaemonUnavailable", "RpcError", "Stream"]

DEFAULT_ADDRESS = "127.0.0.1:47820"
CONTENT_TYPE = "application/grpc-web+proto"
USER_AGENT = "apprentice-client-python/1"

# The gRPC status codes, by number (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
STATUS_CODES = (
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
)
# What an HTTP error with no gRPC status means (gRPC's http-grpc-status-mapping).
_HTTP_STATUS = {400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14}
_FRAME = struct.Struct(">BI")
_DEFAULT = object()  # "the client's default timeout"


class RpcError(Exception):
    """A call that ended with a gRPC status other than OK.

    code_name ("INVALID_ARGUMENT"), code_number (3), message (the daemon's grpc-message,
    naming the field at fault), metadata (the response's headers and trailers, lower-case
    keys; "-bin" values decoded to bytes).
    """

    def __init__(self, code_name, code_number, message, metadata=None):
        super().__init__(f"{code_name}: {message}")
        self.code_name = code_name
        self.code_number = code_number
        self.message = message
        self.metadata = dict(metadata or {})


class DaemonUnavailable(RpcError):
    """The daemon could not be reached, or the connection to it broke."""

    def __init__(self, message, metadata=None):
        super().__init__("UNAVAILABLE", 14, message, metadata)


def _status_error(number, message, metadata):
    name = STATUS_CODES[number] if 0 <= number < len(STATUS_CODES) else f"CODE_{number}"
    return RpcError(name, number, message, metadata)


def _grpc_timeout(seconds):
    """The grpc-timeout header for a deadline `seconds` away: at most 8 digits and a unit."""
    for unit, scale in (("m", 1e3), ("S", 1.0), ("M", 1 / 60), ("H", 1 / 3600)):
        n = max(1, math.ceil(seconds * scale))
        if n < 10**8:
            return f"{n}{unit}"
    return "99999999H"


def _parse_metadata(items):
    out = {}
    for key, value in items:
        key = key.strip().lower()
        value = value.strip()
        if key.endswith("-bin"):
            try:
                value = base64.b64decode(value + "=" * (-len(value) % 4))
            except ValueError:
                pass  # not base64 after all: kept as the text it is
        out[key] = value
    return out


def _parse_trailers(payload):
    """The trailer frame's "key: value" lines (HTTP/1 header syntax)."""
    items = []
    for line in payload.decode("utf-8", "replace").split("\r\n"):
        if ":" in line:
            key, value = line.split(":", 1)
            items.append((key, value))
    return _parse_metadata(items)


def _check_status(metadata):
    """Raises the RpcError that metadata's grpc-status describes, if any; returns the status."""
    raw = metadata.get("grpc-status")
    if raw is None:
        return None
    try:
        number = int(raw)
    except ValueError:
        raise RpcError("UNKNOWN", 2, f"bad grpc-status {raw!r} from the daemon", metadata) from None
    if number != 0:
        raise _status_error(number, urllib.parse.unquote(metadata.get("grpc-message", "")), metadata)
    return number


class _Call:
    """One HTTP exchange: the request sent, the response's frames read one at a time."""

    def __init__(self, client, method, request, timeout, metadata):
        self.output = method["output"]
        body = wire.encode(method["input"], request if request is not None else {})
        headers = {
            "content-type": CONTENT_TYPE,
            "accept": CONTENT_TYPE,
            "x-grpc-web": "1",
            "x-user-agent": USER_AGENT,
        }
        if client.token:
            headers["authorization"] = "Bearer " + client.token
        if timeout is not None:
            if timeout <= 0:
                raise RpcError("DEADLINE_EXCEEDED", 4, "deadline passed before the call started")
            headers["grpc-timeout"] = _grpc_timeout(timeout)
        for source in (client.metadata, metadata or {}):
            for key, value in source.items():
                if key.lower().endswith("-bin") and isinstance(value, (bytes, bytearray)):
                    value = base64.b64encode(bytes(value)).decode("ascii")
                headers[key.lower()] = value
        self.timeout = timeout
        self.address = client.address
        self.conn = client._connection(timeout)
        self.closed = False
        self._lock = threading.Lock()
        self.headers, self.trailers = {}, None
        try:
            try:
                self.conn.connect()
            except socket.timeout:
                raise DaemonUnavailable(client._unreachable("timed out connecting")) from None
            except OSError as e:
                raise DaemonUnavailable(client._unreachable(e.strerror or str(e))) from None
            # After connecting, reads wait until the deadline (and a little more, for the
            # daemon's own DEADLINE_EXCEEDED to arrive), or for ever without one.
            self.conn.sock.settimeout(None if timeout is None else timeout + 2.0)
            self._io(lambda: self.conn.request("POST", method["path"], body=_frame(body), headers=headers))
            self.response = self._io(self.conn.getresponse)
            self.headers = _parse_metadata(self.response.getheaders())
            self._check_headers()
        except BaseException:
            self.close()
            raise

    def _io(self, f):
        """Runs one network step, turning socket errors into RpcErrors."""
        try:
            return f()
        except Exception as e:
            if self.closed:  # closed by this client, maybe from another thread, while reading
                raise _Cancelled() from None
            if isinstance(e, socket.timeout):
                raise RpcError("DEADLINE_EXCEEDED", 4, f"no answer from the daemon within {self.timeout} s") from None
            if isinstance(e, (OSError, http.client.HTTPException)):
                raise DaemonUnavailable(
                    f"lost the connection to the apprentice daemon at {self.address}: {e!r}"
                ) from None
            raise

    def _check_headers(self):
        r = self.response
        # Trailers-only: an error (or an empty stream) answered in the headers alone.
        if _check_status(self.headers) is not None:
            self.trailers = self.headers
            return
        if r.status != 200:
            text = self._io(lambda: r.read(512)).decode("utf-8", "replace").strip()
            number = _HTTP_STATUS.get(r.status, 2)
            raise _status_error(number, f"HTTP {r.status} {r.reason} from the daemon: {text}", self.headers)
        ctype = self.headers.get("content-type", "")
        if not ctype.startswith("application/grpc-web"):
            raise RpcError("UNKNOWN", 2, f"{self.address} did not answer in gRPC-Web (content-type {ctype!r})")

    def _read(self, n):
        chunks, got = [], 0
        while got < n:
            chunk = self._io(lambda want=n - got: self.response.read(want))
            if not chunk:
                if self.closed:
                    raise _Cancelled()
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def next_message(self):
        """The next message as a dict; None once the call has ended with status OK."""
        if self.trailers is not None:
            return None
        head = self._read(5)
        if not head:
            raise RpcError("INTERNAL", 13, "the daemon's response ended without a gRPC status", self.headers)
        if len(head) < 5:
            raise DaemonUnavailable("the daemon's response broke off inside a frame header")
        flags, length = _FRAME.unpack(head)
        payload = self._read(length)
        if len(payload) < length:
            raise DaemonUnavailable(
                f"the daemon's response broke off inside a frame ({len(payload)} of {length} bytes)"
            )
        if flags & 0x80:
            self.trailers = _parse_trailers(payload)
            metadata = dict(self.headers)
            metadata.update(self.trailers)
            if _check_status(metadata) is None:
                raise RpcError("INTERNAL", 13, "the daemon's trailers hold no grpc-status", metadata)
            return None
        if flags & 0x01:
            raise RpcError("INTERNAL", 13, "the daemon sent a compressed message, which this client never asks for")
        try:
            return wire.decode(self.output, payload)
        except ValueError as e:
            raise RpcError("INTERNAL", 13, f"cannot decode the daemon's {self.output}: {e}") from None

    @property
    def metadata(self):
        out = dict(self.headers)
        out.update(self.trailers or {})
        return out

    def close(self):
        """Drops the connection; the daemon sees the call cancelled. Safe from any thread."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        sock = self.conn.sock
        if sock is not None:
            try:
                # Wakes a thread blocked reading this socket, which close() alone may not.
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already disconnected
        self.conn.close()


class _Cancelled(Exception):
    """The call was closed by this client while it was reading."""


def _frame(message):
    return _FRAME.pack(0, len(message)) + message


class Stream:
    """The messages of a server-streaming call, as they arrive.

    Iterate it; close() (or leaving a `with` block) cancels the call: the connection is
    dropped, the daemon stops, and an iteration in progress (in another thread too) ends.
    A call that fails raises RpcError from the iteration.
    """

    def __init__(self, call):
        self._call = call

    def __iter__(self):
        return self

    def __next__(self):
        call = self._call
        if call.closed:
            raise StopIteration
        try:
            message = call.next_message()
        except _Cancelled:
            raise StopIteration from None
        except BaseException:
            call.close()
            raise
        if message is None:
            call.close()
            raise StopIteration
        return message

    def close(self):
        self._call.close()

    cancel = close

    @property
    def metadata(self):
        """The response headers, and the trailers once the stream has ended."""
        return self._call.metadata

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        call = getattr(self, "_call", None)
        if call is not None:
            with contextlib.suppress(Exception):
                call.close()


class Client:
    """A client of the apprentice daemon at `address` ("host:port", or "http://host:port").

    token: sent as `authorization: Bearer <token>` (needed when the daemon was started with
    --token or listens beyond loopback). timeout: the default deadline of unary calls in
    seconds (None: none); streams have none unless a call gives one. metadata: extra headers
    sent with every call. Each method also takes timeout= and metadata= for one call.
    """

    def __init__(self, address=DEFAULT_ADDRESS, token=None, timeout=30.0, metadata=None, connect_timeout=5.0):
        self.address = address
        scheme, _, rest = address.rpartition("://")
        if scheme not in ("", "http", "https"):
            raise ValueError(f"address {address!r}: only http:// and https:// are supported")
        self._https = scheme == "https"
        self._host = rest.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.metadata = dict(metadata or {})
        self.connect_timeout = connect_timeout
        self._methods = {}
        for methods in schema.SERVICES.values():
            for m in methods:
                self._methods[m["path"]] = m
                self._methods[m["path"][1:]] = m
                self._methods.setdefault(m["name"], m)

    def __repr__(self):
        return f"Client({self.address!r})"

    def _connection(self, timeout):
        connect = self.connect_timeout if timeout is None else min(self.connect_timeout, timeout)
        if self._https:
            return http.client.HTTPSConnection(self._host, timeout=connect)
        return http.client.HTTPConnection(self._host, timeout=connect)

    def _unreachable(self, reason):
        return (
            f"cannot reach the apprentice daemon at {self.address} ({reason}). "
            "Start it with `apprentice serve` (it listens on 127.0.0.1:47820 unless given --address), "
            "or point the plug-in at the address it printed."
        )

    def _method(self, method):
        try:
            return self._methods[method]
        except KeyError:
            known = ", ".join(m for m in self._methods if "/" not in m)
            raise ValueError(f"unknown method {method!r} (known: {known})") from None

    def unary(self, method, request=None, timeout=_DEFAULT, metadata=None):
        """Calls a unary method ("OpenSession", or its full path) with a request dict; returns the response dict."""
        m = self._method(method)
        if m["server_streaming"] or m["client_streaming"]:
            raise ValueError(f"{m['name']} is a streaming method: use server_stream()")
        call = _Call(self, m, request, self.timeout if timeout is _DEFAULT else timeout, metadata)
        try:
            message = call.next_message()
            if message is None:
                raise RpcError("INTERNAL", 13, f"the daemon answered {m['name']} with no message", call.metadata)
            if call.next_message() is not None:
                raise RpcError("INTERNAL", 13, f"the daemon answered {m['name']} with more than one message")
            return message
        finally:
            call.close()

    def server_stream(self, method, request=None, timeout=None, metadata=None):
        """Starts a server-streaming call; returns a Stream of response dicts (close it to cancel)."""
        m = self._method(method)
        if not m["server_streaming"] or m["client_streaming"]:
            raise ValueError(f"{m['name']} is not a server-streaming method: use unary()")
        return Stream(_Call(self, m, request, timeout, metadata))


def _python_name(name):
    """OpenSession -> open_session; a keyword or a name Client already has gets a trailing _."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return snake + "_" if keyword.iskeyword(snake) or hasattr(Client, snake) else snake


def _short(type_name):
    return type_name.rsplit(".", 1)[-1]


def _method_function(m):
    path = m["path"]
    if m["server_streaming"]:

        def call(self, request=None, timeout=None, metadata=None):
            return self.server_stream(path, request, timeout=timeout, metadata=metadata)

        returns = f"a Stream of {_short(m['output'])} (close it to cancel)"
    else:

        def call(self, request=None, timeout=_DEFAULT, metadata=None):
            return self.unary(path, request, timeout=timeout, metadata=metadata)

        returns = _short(m["output"])
    doc = list(m["doc"]) + [""] if m["doc"] else []
    doc.append(f"{m['name']}({_short(m['input'])}) -> {returns}; messages are dicts.")
    call.__doc__ = "\n".join(doc)
    return call


# The service's methods, named from schema.py (gRPC-Web cannot send client streams).
for _methods in schema.SERVICES.values():
    for _m in _methods:
        if not _m["client_streaming"]:
            _f = _method_function(_m)
            _f.__name__ = _python_name(_m["name"])
            _f.__qualname__ = "Client." + _f.__name__
            setattr(Client, _f.__name__, _f)
