"""The daemon's client: the copy installed beside the plug-in, else the repository's (for tests)."""

try:
    from apprentice_client import DEFAULT_ADDRESS, Client, DaemonUnavailable, RpcError, append_ops, daemon, paint, png
except ImportError:  # the plug-in folder linked from the repository: the client is in proto/python
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "proto" / "python"))
    from apprentice_client import DEFAULT_ADDRESS, Client, DaemonUnavailable, RpcError, append_ops, daemon, paint, png

__all__ = ["DEFAULT_ADDRESS", "Client", "DaemonUnavailable", "RpcError", "append_ops", "daemon", "paint", "png"]
