"""The daemon's client: the copy inside the plug-in zip, else the repository's (for tests)."""

try:
    from .apprentice_client import DEFAULT_ADDRESS, Client, DaemonUnavailable, RpcError, append_ops, daemon, paint
except ImportError:  # running from the repository: proto/python is on sys.path
    from apprentice_client import DEFAULT_ADDRESS, Client, DaemonUnavailable, RpcError, append_ops, daemon, paint

__all__ = ["DEFAULT_ADDRESS", "Client", "DaemonUnavailable", "RpcError", "append_ops", "daemon", "paint"]
