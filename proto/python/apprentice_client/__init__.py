"""The apprentice daemon's Python client, for the editor plug-ins (standard library only).

    from apprentice_client import Client, RpcError, DaemonUnavailable

    client = Client("127.0.0.1:47820")
    info = client.get_info()

Messages are plain dicts keyed by the proto field names (see wire.py); the contract itself,
every message, enum and method of proto/apprentice/v1/*.proto, is the generated schema.py.
Copy this folder as is into a plug-in: it needs nothing outside it.
"""

from . import daemon, paint, png, schema
from .appending import append_ops
from .grpcweb import DEFAULT_ADDRESS, STATUS_CODES, Client, DaemonUnavailable, RpcError, Stream
from .wire import decode, encode

__all__ = [
    "DEFAULT_ADDRESS",
    "STATUS_CODES",
    "Client",
    "DaemonUnavailable",
    "RpcError",
    "Stream",
    "append_ops",
    "daemon",
    "decode",
    "encode",
    "paint",
    "png",
    "schema",
]
