"""The PyPI grpcio client (stubs generated at test time) against the same daemon, over HTTP/2."""

import time
import uuid

import grpc
import pytest
from apprentice_client import Client
from grpc_health.v1 import health_pb2, health_pb2_grpc
from oracle import official
from samples import rich_history


@pytest.fixture
def channel(daemon):
    with grpc.insecure_channel(daemon.address) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield channel


def test_health_check_says_serving(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "apprentice.v1.Apprentice"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as e:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_sessions_and_continue_over_grpc(pb, channel, daemon):
    stub = pb.service_grpc.ApprenticeStub(channel)
    s = pb.service
    header = official(pb, "Header", rich_history()["header"])
    opened = stub.OpenSession(
        s.OpenSessionRequest(document_id=str(uuid.uuid4()), header=header, editor="grpcio"), timeout=10
    )
    assert opened.session_id and opened.next_sequence == 0
    ops = official(pb, "History", rich_history()).ops
    first = stub.AppendOps(s.AppendOpsRequest(session_id=opened.session_id, sequence=0, ops=ops[:5]), timeout=10)
    assert (first.next_sequence, first.op_count, first.duplicate) == (1, 5, False)
    again = stub.AppendOps(s.AppendOpsRequest(session_id=opened.session_id, sequence=0, ops=ops[:5]), timeout=10)
    assert (again.next_sequence, again.op_count, again.duplicate) == (1, 5, True)
    with pytest.raises(grpc.RpcError) as gap:
        stub.AppendOps(s.AppendOpsRequest(session_id=opened.session_id, sequence=3, ops=ops[5:]), timeout=10)
    assert gap.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "expected sequence is 1" in gap.value.details()
    assert ("apprentice-expected-sequence", "1") in gap.value.trailing_metadata()
    stub.AppendOps(s.AppendOpsRequest(session_id=opened.session_id, sequence=1, ops=ops[5:]), timeout=10)

    history = stub.GetHistory(s.GetHistoryRequest(session_id=opened.session_id), timeout=10)
    assert history == official(pb, "History", rich_history())

    events = list(stub.Continue(s.ContinueRequest(session_id=opened.session_id, count=6, seed=3), timeout=30))
    assert [e.index for e in events] == list(range(6))
    assert all(e.op.WhichOneof("kind") == "stroke" for e in events)

    # The gRPC-Web client sees the same session and the same painter.
    web = Client(daemon.address)
    assert web.get_history({"session_id": opened.session_id})["ops"][0]["stroke"]["brush"]["opacity"] == 0.0
    from_web = [e["op"] for e in web.continue_({"session_id": opened.session_id, "count": 6, "seed": 3})]
    assert [e.op.SerializeToString() for e in events] == [official(pb, "Op", op).SerializeToString() for op in from_web]


def test_cancelling_a_grpc_stream(pb, channel, daemon):
    stub = pb.service_grpc.ApprenticeStub(channel)
    call = stub.Continue(pb.service.ContinueRequest(history=official(pb, "History", rich_history()), count=100000))
    assert [next(call).index, next(call).index] == [0, 1]
    call.cancel()
    with pytest.raises(grpc.RpcError) as e:
        for _ in call:
            pass
    assert e.value.code() == grpc.StatusCode.CANCELLED
    started = time.monotonic()
    info = stub.GetInfo(pb.service.GetInfoRequest(), timeout=5)
    assert info.version and time.monotonic() - started < 2.0


def test_grpc_errors_name_the_field(pb, channel):
    stub = pb.service_grpc.ApprenticeStub(channel)
    with pytest.raises(grpc.RpcError) as e:
        stub.OpenSession(pb.service.OpenSessionRequest(document_id="x"), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and e.value.details().startswith("header")


def test_grpc_token(pb, token_daemon):
    with grpc.insecure_channel(token_daemon.address) as channel:
        stub = pb.service_grpc.ApprenticeStub(channel)
        with pytest.raises(grpc.RpcError) as e:
            stub.GetInfo(pb.service.GetInfoRequest(), timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        info = stub.GetInfo(
            pb.service.GetInfoRequest(), timeout=10, metadata=[("authorization", "Bearer s3cret-token")]
        )
        assert info.version
        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.RpcError) as h:
            health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert h.value.code() == grpc.StatusCode.UNAUTHENTICATED
