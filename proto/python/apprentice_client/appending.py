"""Appending ops to a session through the two refusals a plug-in meets in ordinary use."""

import re

from .grpcweb import RpcError

_BAD_OP = re.compile(r"^ops\[(\d+)\]")


def append_ops(append, session_id, sequence, ops):
    """Stores `ops` with AppendOps (`append`, a function of the request) while the daemon refuses
    in one of two ordinary ways: an op it cannot store is set aside and the rest still go; a
    sequence number another client (another window on the document) took is followed on from.
    Returns (response, the sequence the batch went with, [(op, message)] set aside); the response
    is None when every op was set aside. Any other refusal is raised."""
    ops, rejected = list(ops), []
    while ops:
        try:
            return append({"session_id": session_id, "sequence": sequence, "ops": ops}), sequence, rejected
        except RpcError as e:
            bad = _BAD_OP.match(e.message or "")
            if e.code_name == "INVALID_ARGUMENT" and bad and int(bad.group(1)) < len(ops):
                rejected.append((ops.pop(int(bad.group(1))), e.message))
                continue
            expected = e.metadata.get("apprentice-expected-sequence")
            if e.code_name == "FAILED_PRECONDITION" and expected is not None:
                sequence = int(expected)
                continue
            raise
    return None, sequence, rejected
