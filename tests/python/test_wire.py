"""wire.py against the official protobuf runtime, both ways, byte for byte."""

import ast
import math
import pathlib
import struct
import subprocess
import sys

import pytest
from apprentice_client import schema, wire
from conftest import CLIENT_ROOT
from oracle import as_dict, message_class, official
from samples import other_messages, rich_history

CASES = [("History", rich_history())] + other_messages()
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


@pytest.mark.parametrize(("name", "value"), CASES, ids=IDS)
def test_wire_encodes_what_protobuf_encodes(pb, name, value):
    data = wire.encode(name, value)
    expected = official(pb, name, value)
    assert data == expected.SerializeToString(deterministic=True)
    parsed = message_class(pb, name).FromString(data)
    assert parsed == expected


@pytest.mark.parametrize(("name", "value"), CASES, ids=IDS)
def test_wire_decodes_what_protobuf_encodes(pb, name, value):
    data = official(pb, name, value).SerializeToString()
    assert wire.decode(name, data, defaults=False) == value
    assert wire.decode(name, data) == as_dict(official(pb, name, value))


def test_presence_survives_the_round_trip(pb):
    h = rich_history()
    decoded = wire.decode("History", wire.encode("History", h))
    first = decoded["ops"][0]["stroke"]
    assert first["brush"]["opacity"] == 0.0  # optional, present at its default
    assert "opacity" not in decoded["ops"][1]["stroke"]["brush"]  # optional, absent
    assert first["points"][0]["pressure"] == 0.0
    assert "pressure" not in first["points"][2]
    assert "tilt" not in first["points"][0] and first["points"][1]["tilt"] == {"x": -45.0, "y": 30.0}
    assert decoded["ops"][8]["magic_brush"]["style"] == ""
    assert "prompt" not in decoded["ops"][8]["magic_brush"]
    assert decoded["ops"][11] == {"undo": {}} and decoded["ops"][12] == {"undo": {"count": 2}}
    # Defaults of fields without presence are filled in: the second patch's y and mode.
    assert decoded["ops"][10]["raster_patch"]["y"] == 0
    assert decoded["ops"][10]["raster_patch"]["mode"] == "PATCH_MODE_UNSPECIFIED"
    msg = official(pb, "History", h)
    assert msg.ops[0].stroke.brush.HasField("opacity") and not msg.ops[1].stroke.brush.HasField("opacity")
    assert msg.ops[8].magic_brush.WhichOneof("guidance") == "style"


def test_negative_and_extreme_integers(pb):
    patch = {"x": -2147483648, "y": 2147483647, "width": 4294967295, "mode": 2}
    data = wire.encode("RasterPatch", patch)
    msg = message_class(pb, "RasterPatch").FromString(data)
    assert (msg.x, msg.y, msg.width, msg.mode) == (-2147483648, 2147483647, 4294967295, 2)
    assert data == msg.SerializeToString()
    assert len(wire.encode("RasterPatch", {"x": -1})) == 11  # a negative int32 takes ten varint bytes
    assert wire.decode("RasterPatch", data, defaults=False) == dict(patch, mode="PATCH_MODE_REPLACE")
    info = {"created_ms": -(2**63), "updated_ms": -1}
    assert wire.decode("SessionInfo", wire.encode("SessionInfo", info), defaults=False) == info
    assert message_class(pb, "SessionInfo").FromString(wire.encode("SessionInfo", info)).created_ms == -(2**63)


def test_floats_are_32_bit(pb):
    rounded = struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert wire.decode("Tilt", wire.encode("Tilt", {"x": 0.1}))["x"] == rounded
    assert message_class(pb, "Tilt").FromString(wire.encode("Tilt", {"x": 0.1})).x == rounded
    nan = wire.decode("Tilt", wire.encode("Tilt", {"x": math.nan, "y": -math.inf}))
    assert math.isnan(nan["x"]) and nan["y"] == -math.inf
    assert wire.decode("Tilt", wire.encode("Tilt", {"x": 3})) == {"x": 3.0, "y": 0.0}  # ints are numbers


def test_enums_take_numbers_and_unknown_numbers_come_back_as_ints(pb):
    assert wire.encode("Stroke", {"tool": 5}) == wire.encode("Stroke", {"tool": "TOOL_SMUDGE"})
    assert wire.decode("Stroke", wire.encode("Stroke", {"tool": 42})) == {"tool": 42, "points": []}
    assert message_class(pb, "Stroke").FromString(wire.encode("Stroke", {"tool": 42})).tool == 42


def test_repeated_scalars_are_packed_and_both_forms_decode(pb):
    request = {"allowed_tools": ["TOOL_BRUSH", "TOOL_ERASER", "TOOL_UNSPECIFIED"]}
    data = wire.encode("ContinueRequest", request)
    assert data == b"\x3a\x03\x01\x04\x00"  # field 7, length-delimited, one byte each
    unpacked = b"\x38\x01\x38\x04\x38\x00"
    mixed = b"\x38\x01\x3a\x02\x04\x00"
    for form in (data, unpacked, mixed):
        assert wire.decode("ContinueRequest", form, defaults=False) == request
        assert (
            as_dict(message_class(pb, "ContinueRequest").FromString(form))["allowed_tools"] == request["allowed_tools"]
        )


def test_unknown_fields_are_skipped(pb):
    known = wire.encode("Point", {"x": 1.0, "time_ms": 7})
    unknown = (
        b"\xc8\x06\x96\x01"  # field 105, varint
        b"\xd1\x06" + b"\x01" * 8 + b"\xda\x06\x03abc"  # field 106, 64-bit; field 107, length-delimited
        b"\xe5\x06" + b"\x02" * 4 + b"\xeb\x06\x08\x01\xec\x06"  # field 108, 32-bit; group 109 holding a varint
        b"\x2d" + b"\x00\x00\x80\x3f"  # field 5 (tilt, a message) with the wrong wire type
    )
    data = unknown[:4] + known + unknown[4:]  # before, between and after the known fields
    assert wire.decode("Point", data) == wire.decode("Point", known) == {"x": 1.0, "y": 0.0, "time_ms": 7}
    assert message_class(pb, "Point").FromString(data).time_ms == 7


def test_fields_seen_twice_merge_as_protobuf_merges(pb):
    first = wire.encode("Op", {"stroke": {"tool": "TOOL_BRUSH", "points": [{"x": 1.0}]}})
    second = wire.encode("Op", {"stroke": {"brush": {"size": 2.0}, "points": [{"x": 2.0}]}})
    fill = wire.encode("Op", {"fill": {"x": 3.0}})
    for data in (first + second, first + fill, fill + first, first + second + b"\x08\x02"):
        assert wire.decode("Op", data) == as_dict(message_class(pb, "Op").FromString(data))


def test_type_names_resolve_short_and_full():
    h = rich_history()
    assert (
        wire.encode("apprentice.v1.History", h) == wire.encode(".apprentice.v1.History", h) == wire.encode("History", h)
    )
    with pytest.raises(ValueError, match="unknown message type 'Nope'"):
        wire.encode("Nope", {})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Stroke", {"points": [{}, {}, {"x": "1"}]}, "Stroke.points[2].x: expected a number, got str"),
        ("Stroke", {"points": [{"x": True}]}, "Stroke.points[0].x: expected a number, got bool"),
        ("History", {"ops": [{"stroke": {"tool": "BRUSH"}}]}, "History.ops[0].stroke.tool: unknown Tool value 'BRUSH'"),
        ("Op", {"stroke": {}, "fill": {}}, "Op: oneof 'kind' has more than one field set (stroke, fill)"),
        ("Point", {"timeMs": 3}, "Point has no field 'timeMs' (did you mean 'time_ms'?"),
        ("Point", {"time_ms": -1}, "Point.time_ms: -1 is out of range for uint32"),
        ("Point", {"time_ms": 2**32}, "Point.time_ms: 4294967296 is out of range for uint32"),
        ("Point", {"time_ms": 1.0}, "Point.time_ms: expected an integer, got float"),
        ("RasterPatch", {"x": 2**31}, "RasterPatch.x: 2147483648 is out of range for int32"),
        ("MagicBrush", {"seed": 2**64}, "MagicBrush.seed: 18446744073709551616 is out of range for uint64"),
        ("RasterPatch", {"rgba": "pixels"}, "RasterPatch.rgba: expected bytes, got str"),
        ("Header", {"title": b"x"}, "Header.title: expected a str, got bytes"),
        ("Fill", {"contiguous": 1}, "Fill.contiguous: expected True or False, got int"),
        ("Stroke", {"points": {"x": 1.0}}, "Stroke.points: expected a list, got dict"),
        ("History", {"header": []}, "History.header: expected a dict (a Header message), got list"),
        ("Color", {"r": 1e39}, "Color.r: 1e+39 is out of range for a 32-bit float"),
        ("Header", {"title": "\ud800"}, "Header.title: not encodable as UTF-8"),
    ],
)
def test_bad_input_names_the_field(name, value, message):
    with pytest.raises(ValueError) as e:
        wire.encode(name, value)
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x12\x07\x0a\x05\x12\x03\x0d\x00\x00", "History.ops[0].stroke.brush.size: truncated float"),
        (b"\x12\x80", "History.ops: truncated varint"),
        (b"\x12\x02\x22\x09", "History.ops[0].raster_patch: truncated"),
        (b"\x0a\x03\x22\x01\xff", "History.header.title: invalid UTF-8"),
        (b"\x00", "History: invalid field number 0"),
        (b"\x0f", "History: invalid wire type 7"),
    ],
)
def test_bad_bytes_name_the_field(data, message):
    with pytest.raises(ValueError) as e:
        wire.decode("History", data)
    assert message in str(e.value)


def test_a_large_history_round_trips(pb):
    tools = [name for name, number in schema.ENUMS["apprentice.v1.Tool"].items() if number]
    h = {"header": {"width": 2048, "height": 2048}, "ops": []}
    for i in range(300):
        points = [{"x": float(j), "y": i + 0.5, "pressure": (j % 8) / 8, "time_ms": j} for j in range(1, 50)]
        h["ops"].append({"stroke": {"tool": tools[i % 5], "brush": {"size": 1.0 + i % 64}, "points": points}})
    data = wire.encode("History", h)
    assert data == official(pb, "History", h).SerializeToString()
    decoded = wire.decode("History", data, defaults=False)
    assert decoded == h


def test_schema_describes_every_message_and_method_of_the_descriptor_set(pb):
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString(pb.descriptor_set)
    messages = {f"{f.package}.{m.name}" for f in fds.file for m in f.message_type}
    enums = {f"{f.package}.{e.name}" for f in fds.file for e in f.enum_type}
    methods = {m.name for f in fds.file for s in f.service for m in s.method}
    assert set(schema.MESSAGES) == messages
    assert set(schema.ENUMS) == enums
    assert {m["name"] for ms in schema.SERVICES.values() for m in ms} == methods


def test_schema_is_up_to_date(tmp_path):
    out = tmp_path / "schema.py"
    generator = CLIENT_ROOT / "generate_schema.py"
    subprocess.run([sys.executable, str(generator), "--out", str(out)], check=True, timeout=120)
    committed = (CLIENT_ROOT / "apprentice_client" / "schema.py").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed, (
        "apprentice_client/schema.py is stale: run python3 proto/python/generate_schema.py"
    )
    again = tmp_path / "again.py"
    subprocess.run([sys.executable, str(generator), "--out", str(again)], check=True, timeout=120)
    assert again.read_bytes() == out.read_bytes()  # deterministic


def test_the_client_needs_only_the_standard_library():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import apprentice_client;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('google', 'grpc', 'grpc_tools'));"
        "assert not bad, bad;"
        "c = apprentice_client.Client('127.0.0.1:1');"
        "print(apprentice_client.decode('Color', apprentice_client.encode('Color', {'r': 0.5})))"
    )
    # -I -S: no site-packages at all, as inside an editor's embedded Python.
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(CLIENT_ROOT)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'r': 0.5, 'g': 0.0, 'b': 0.0}"


def test_the_client_parses_as_python_3_8():
    for path in sorted(pathlib.Path(CLIENT_ROOT, "apprentice_client").glob("*.py")):
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=(3, 8))


def _mutate(data, other, rng):
    out = bytearray(data)
    for _ in range(1 + rng.randrange(4)):
        at = rng.randrange(len(out) + 1)
        op = rng.randrange(6)
        if op == 0 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 2:
            out[at:at] = rng.choice([b"\xff" * 10, b"\x80", b"\x00", b"\x0a\xff\xff\xff\xff\x0f", b"\x7f"])
        elif op == 3 and out:
            del out[at : at + 1 + rng.randrange(16)]
        elif op == 4 and other:
            out = out[:at] + other[rng.randrange(len(other)) :]
        else:
            del out[at:]
    return bytes(out)


def test_the_decoder_takes_any_bytes_and_only_ever_raises_valueerror():
    """A fuzz pass: mangled encodings of every sample decode or raise ValueError, never
    anything else (the plug-ins run this decoder on whatever the socket gives them).
    APPRENTICE_FUZZ_ROUNDS=1000000 makes it a long run."""
    import os
    import random

    rng = random.Random(7)
    seeds = [(name, wire.encode(name, value)) for name, value in CASES]
    rounds = int(os.environ.get("APPRENTICE_FUZZ_ROUNDS", "20000"))
    decoded = 0
    for _ in range(rounds):
        name, data = rng.choice(seeds)
        blob = _mutate(data, rng.choice(seeds)[1], rng)
        try:
            wire.decode(name, blob)
            decoded += 1
        except ValueError:
            pass
    assert 0 < decoded < rounds, decoded
