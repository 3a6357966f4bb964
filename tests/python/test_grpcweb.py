"""The standard-library gRPC-Web client against the real daemon."""

import socket
import struct
import threading
import time
import uuid

import pytest
from apprentice_client import Client, DaemonUnavailable, RpcError, schema, wire
from apprentice_client.grpcweb import _grpc_timeout
from conftest import Daemon
from samples import rich_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def open_session(client, header=None, **extra):
    request = {"document_id": str(uuid.uuid4()), "header": header or rich_history()["header"], "editor": "pytest"}
    request.update(extra)
    return request, client.open_session(request)


def png_size(png):
    """Width and height from the IHDR chunk, which must come first."""
    assert png[:8] == PNG_SIGNATURE
    length, kind, width, height = struct.unpack(">I4sII", png[8:24])
    assert (length, kind) == (13, b"IHDR")
    return width, height


def normalized(type_name, value):
    """`value` as the daemon gives it back: the same message, with the defaults filled in."""
    return wire.decode(type_name, wire.encode(type_name, value))


def wait_for_log(daemon, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in daemon.log():
            return True
        time.sleep(0.05)
    return False


def test_methods_are_named_from_the_schema():
    expected = {
        "OpenSession": "open_session",
        "AppendOps": "append_ops",
        "UploadSnapshot": "upload_snapshot",
        "GetHistory": "get_history",
        "ListSessions": "list_sessions",
        "DeleteSession": "delete_session",
        "Continue": "continue_",  # `continue` is a keyword
        "Render": "render",
        "MagicBrush": "magic_brush",
        "GetInfo": "get_info",
        "Personalize": "personalize",
    }
    methods = [m for ms in schema.SERVICES.values() for m in ms]
    assert {m["name"] for m in methods} == set(expected)
    for m in methods:
        f = getattr(Client, expected[m["name"]])
        assert f.__name__ == expected[m["name"]]
        assert m["name"] in f.__doc__
    assert "sequence numbers" in Client.append_ops.__doc__  # the .proto comment
    assert "Stream of ContinueEvent" in Client.continue_.__doc__


def test_grpc_timeout_header():
    assert _grpc_timeout(0.5) == "500m"
    assert _grpc_timeout(0.0001) == "1m"
    assert _grpc_timeout(30) == "30000m"
    assert _grpc_timeout(10**6) == "1000000S"
    assert _grpc_timeout(10**9) == "16666667M"


def test_get_info(client):
    info = client.get_info()
    assert info["version"] and info["device"]
    assert "sketch" in info["painters"]
    assert isinstance(info["models"], list)
    assert client.unary("GetInfo") == info
    assert client.unary("/apprentice.v1.Apprentice/GetInfo", {}) == info
    with pytest.raises(ValueError, match="unknown method 'Nope'"):
        client.unary("Nope")
    with pytest.raises(ValueError, match="streaming"):
        client.unary("Continue", {})


def test_get_info_names_the_magic_brush_styles_in_the_data_folder(tmp_path):
    # A style is a PNG in DATA_DIR/styles, named by its stem (MagicBrush.style); nothing else counts.
    styles = tmp_path / "data" / "styles"
    styles.mkdir(parents=True)
    for name in ("ink.png", "dusk.png", "notes.txt"):
        (styles / name).write_bytes(b"")
    daemon = Daemon(tmp_path)
    try:
        assert Client(daemon.address, timeout=10.0).get_info()["styles"] == ["dusk", "ink"]
    finally:
        assert daemon.stop() == 0


def test_sessions_append_in_batches_and_give_back_exactly_what_was_sent(client):
    history = rich_history()
    request, opened = open_session(client, editor_version="5.2.9")
    assert opened["next_sequence"] == 0 and opened["op_count"] == 0 and opened["session_id"]
    sid = opened["session_id"]
    ops = history["ops"]
    batches = [ops[i : i + 4] for i in range(0, len(ops), 4)]
    count = 0
    for sequence, batch in enumerate(batches):
        count += len(batch)
        answer = client.append_ops({"session_id": sid, "sequence": sequence, "ops": batch})
        assert answer == {"next_sequence": sequence + 1, "op_count": count, "duplicate": False}

    # A retried batch is acknowledged again, and stored once.
    again = client.append_ops({"session_id": sid, "sequence": 1, "ops": batches[1]})
    assert again == {"next_sequence": len(batches), "op_count": len(ops), "duplicate": True}

    # A gap is refused, naming the sequence number the daemon expects.
    with pytest.raises(RpcError) as gap:
        client.append_ops({"session_id": sid, "sequence": len(batches) + 1, "ops": batches[0]})
    e = gap.value
    assert (e.code_name, e.code_number) == ("FAILED_PRECONDITION", 9)
    assert f"expected sequence is {len(batches)}" in e.message
    assert e.metadata.get("apprentice-expected-sequence") == str(len(batches))
    assert str(e).startswith("FAILED_PRECONDITION: sequence:")

    # The history is what was sent, op for op and field for field.
    got = client.get_history({"session_id": sid})
    assert got == normalized("History", history)
    assert wire.encode("History", got) == wire.encode("History", history)

    # Re-opening the document finds the session where it was.
    reopened = client.open_session(request)
    assert reopened == {"session_id": sid, "next_sequence": len(batches), "op_count": len(ops)}

    listed = [s for s in client.list_sessions()["sessions"] if s["session_id"] == sid]
    assert len(listed) == 1
    info = listed[0]
    assert info["document_id"] == request["document_id"]
    assert (info["editor"], info["editor_version"]) == ("pytest", "5.2.9")
    assert info["header"] == normalized("Header", history["header"])
    assert (info["op_count"], info["next_sequence"]) == (len(ops), len(batches))
    now_ms = time.time() * 1000
    assert now_ms - 600_000 < info["created_ms"] <= info["updated_ms"] < now_ms + 600_000


def test_snapshot_render_and_bad_sizes(client):
    header = {"width": 40, "height": 30, "background": {"r": 1.0, "g": 1.0, "b": 1.0}}
    _, opened = open_session(client, header=header)
    sid = opened["session_id"]
    client.append_ops({"session_id": sid, "sequence": 0, "ops": rich_history()["ops"][:2]})
    rgba = bytes(range(256)) * (40 * 30 * 4 // 256) + bytes(40 * 30 * 4 % 256)
    assert client.upload_snapshot({"session_id": sid, "op_count": 2, "rgba": rgba}) == {}

    with pytest.raises(RpcError) as short:
        client.upload_snapshot({"session_id": sid, "op_count": 2, "rgba": rgba[:-4]})
    assert short.value.code_name == "INVALID_ARGUMENT" and short.value.message.startswith("rgba:")
    with pytest.raises(RpcError) as ahead:
        client.upload_snapshot({"session_id": sid, "op_count": 3, "rgba": rgba})
    assert ahead.value.code_name == "FAILED_PRECONDITION" and "op_count" in ahead.value.message

    rendered = client.render({"session_id": sid})
    assert png_size(rendered["png"]) == (rendered["width"], rendered["height"]) == (40, 30)
    small = client.render({"session_id": sid, "max_side": 20})
    assert png_size(small["png"]) == (small["width"], small["height"]) == (20, 15)
    inline = client.render({"history": rich_history()})
    assert png_size(inline["png"]) == (64, 48)


def test_render_without_a_source_and_unknown_sessions(client):
    with pytest.raises(RpcError) as none:
        client.render({})
    assert none.value.code_name == "INVALID_ARGUMENT" and none.value.message.startswith("source")
    with pytest.raises(RpcError) as missing:
        client.get_history({"session_id": "no-such-session"})
    assert missing.value.code_name == "NOT_FOUND"


def test_a_bad_op_is_refused_naming_the_field(client):
    _, opened = open_session(client)
    bad = {"stroke": {"tool": "TOOL_BRUSH", "brush": {"size": -3.0}, "points": [{"x": 1.0, "y": 1.0}]}}
    with pytest.raises(RpcError) as e:
        client.append_ops({"session_id": opened["session_id"], "sequence": 0, "ops": [bad]})
    assert e.value.code_name == "INVALID_ARGUMENT"
    assert e.value.message.startswith("ops[0].stroke.brush.size"), e.value.message
    assert "-3" in e.value.message
    ok = {"undo": {}}
    with pytest.raises(RpcError) as later:
        client.append_ops({"session_id": opened["session_id"], "sequence": 0, "ops": [ok, ok, bad]})
    assert later.value.message.startswith("ops[2].stroke.brush.size")
    # Nothing of a refused batch is stored.
    assert client.get_history({"session_id": opened["session_id"]})["ops"] == []


def test_continue_streams_ops(client):
    _, opened = open_session(client)
    sid = opened["session_id"]
    client.append_ops({"session_id": sid, "sequence": 0, "ops": rich_history()["ops"][:3]})
    with client.continue_({"session_id": sid, "count": 12, "seed": 7}) as stream:
        events = list(stream)
    assert [e["index"] for e in events] == list(range(12))
    for e in events:
        assert set(e["op"]) == {"stroke"}
        assert e["op"]["stroke"]["points"]
    assert stream.metadata.get("grpc-status") == "0"
    # The same seed paints the same ops; the streamed ops are valid ones the daemon accepts.
    assert [e["op"] for e in client.continue_({"session_id": sid, "count": 12, "seed": 7})] == [e["op"] for e in events]
    answer = client.append_ops({"session_id": sid, "sequence": 1, "ops": [e["op"] for e in events]})
    assert answer["op_count"] == 15

    pencils = list(client.continue_({"history": rich_history(), "count": 5, "allowed_tools": ["TOOL_PENCIL"]}))
    assert [e["op"]["stroke"]["tool"] for e in pencils] == ["TOOL_PENCIL"] * 5


def test_magic_brush_streams_progress_then_the_op_with_its_pixels(client):
    dab = {"path": [{"x": 30.0, "y": 20.0}], "radius": 6.0, "strength": 1.0, "seed": 3, "prompt": "a cat"}
    events = list(client.magic_brush({"history": rich_history(), "dab": dab, "steps": 3}))
    assert [e["progress"] for e in events[:-1]] == [{"step": i, "steps": 3} for i in range(3)]
    done = events[-1]["done"]
    assert done["model"] == "brush (built in)" and "reads no text" in done["note"]
    result = done["op"]["magic_brush"]["result"]
    assert len(result["rgba"]) == result["width"] * result["height"] * 4
    with pytest.raises(RpcError) as e:
        list(client.magic_brush({"history": rich_history(), "dab": dict(dab, radius=0.0)}))
    assert e.value.code_name == "INVALID_ARGUMENT" and e.value.message.startswith("dab.radius: ")


def test_continue_errors(client):
    with pytest.raises(RpcError) as zero:
        list(client.continue_({"history": rich_history(), "count": 0}))
    assert zero.value.code_name == "INVALID_ARGUMENT" and zero.value.message.startswith("count")
    with pytest.raises(RpcError) as painter:
        next(client.continue_({"history": rich_history(), "count": 1, "painter": "nope"}))
    assert painter.value.code_name == "INVALID_ARGUMENT" and "sketch" in painter.value.message
    bad = rich_history()
    bad["ops"][0]["stroke"]["brush"]["size"] = 4096.0
    with pytest.raises(RpcError) as history:
        next(client.continue_({"history": bad, "count": 1}))
    assert history.value.message.startswith("history.ops[0].stroke.brush.size"), history.value.message


def test_cancelling_a_stream_stops_the_daemon(client, daemon):
    _, opened = open_session(client)
    sid = opened["session_id"]
    stream = client.continue_({"session_id": sid, "count": 1000})
    first = [next(stream), next(stream)]
    assert [e["index"] for e in first] == [0, 1]
    stream.close()
    assert list(stream) == []
    started = time.monotonic()
    assert client.get_info(timeout=5.0)["version"]
    assert client.get_history({"session_id": sid}, timeout=5.0)["ops"] == []
    assert time.monotonic() - started < 2.0
    assert wait_for_log(daemon, "continue cancelled after"), "the daemon did not notice the cancelled stream"


def test_closing_a_stream_from_another_thread_ends_its_iteration(client):
    stream = client.continue_({"history": rich_history(), "count": 100000})
    received = []
    timer = threading.Timer(0.3, stream.close)
    timer.start()
    started = time.monotonic()
    try:
        for event in stream:
            received.append(event["index"])
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10.0
    assert 0 < len(received) < 100000
    assert received == list(range(len(received)))
    assert client.get_info(timeout=5.0)["version"]


def test_closing_a_stream_wakes_a_reader_blocked_on_a_silent_daemon():
    """A stand-in daemon answers the headers and then nothing: close() must still end the wait."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []

    def serve():
        conn, _ = listener.accept()
        accepted.append(conn)
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web+proto\r\ntransfer-encoding: chunked\r\n\r\n"
        )

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        stream = Client(f"127.0.0.1:{listener.getsockname()[1]}").continue_({"session_id": "s", "count": 1})
        threading.Timer(0.3, stream.close).start()
        started = time.monotonic()
        assert list(stream) == []
        assert 0.2 < time.monotonic() - started < 5.0
    finally:
        server.join(5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_a_deadline_ends_a_stream(client):
    started = time.monotonic()
    with pytest.raises(RpcError) as e:
        for _ in client.continue_({"history": rich_history(), "count": 100000}, timeout=0.5):
            pass
    assert e.value.code_name == "DEADLINE_EXCEEDED"
    assert time.monotonic() - started < 5.0


def test_an_unreachable_daemon_says_how_to_start_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DaemonUnavailable) as e:
        Client(f"127.0.0.1:{port}", timeout=5.0).get_info()
    assert isinstance(e.value, RpcError) and e.value.code_name == "UNAVAILABLE" and e.value.code_number == 14
    assert "apprentice serve" in str(e.value) and f"127.0.0.1:{port}" in str(e.value)
    with pytest.raises(DaemonUnavailable):
        Client(f"http://127.0.0.1:{port}").continue_({"session_id": "x", "count": 1})


def test_a_daemon_that_dies_mid_stream_raises_unavailable(tmp_path):
    doomed = Daemon(tmp_path)
    try:
        stream = Client(doomed.address).continue_({"history": rich_history(), "count": 100000})
        assert next(stream)["index"] == 0
        doomed.proc.kill()
        with pytest.raises(DaemonUnavailable) as e:
            for _ in stream:
                pass
        assert "lost the connection" in e.value.message
    finally:
        doomed.stop()


def test_a_token_is_required_when_the_daemon_has_one(token_daemon):
    for client in (Client(token_daemon.address), Client(token_daemon.address, token="wrong")):
        with pytest.raises(RpcError) as e:
            client.get_info()
        assert (e.value.code_name, e.value.code_number) == ("UNAUTHENTICATED", 16)
        assert "token" in e.value.message
        with pytest.raises(RpcError) as stream:
            next(client.continue_({"history": rich_history(), "count": 1}))
        assert stream.value.code_name == "UNAUTHENTICATED"
    client = Client(token_daemon.address, token="s3cret-token")
    assert client.get_info()["version"]
    _, opened = open_session(client)
    assert (
        client.append_ops({"session_id": opened["session_id"], "sequence": 0, "ops": [{"undo": {}}]})["op_count"] == 1
    )
    assert len(list(client.continue_({"session_id": opened["session_id"], "count": 3}))) == 3


def test_encoding_errors_are_raised_before_anything_is_sent(client):
    with pytest.raises(ValueError, match=r"AppendOpsRequest.ops\[0\].stroke.points\[0\].x: expected a number"):
        client.append_ops({"session_id": "x", "ops": [{"stroke": {"points": [{"x": "1"}]}}]})


def test_many_calls_in_parallel(client):
    _, opened = open_session(client)
    sid = opened["session_id"]
    errors = []

    def work():
        try:
            for _ in range(10):
                assert client.get_history({"session_id": sid})["header"]["width"] == 64
        except Exception as e:  # noqa: BLE001 - reported below, from the main thread
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
