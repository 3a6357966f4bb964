"""The Protocol Buffers binary format for the apprentice.v1 messages, driven by schema.py.

Messages are plain dicts keyed by the proto field names (snake_case):

    >>> data = encode("Color", {"r": 1.0, "b": 0.5})
    >>> decode("Color", data)
    {'r': 1.0, 'g': 0.0, 'b': 0.5}

- enums are their value names ("TOOL_BRUSH"); encode also takes the numbers, and decode
  returns a number it does not know as an int;
- bytes fields are bytes; 64-bit integers are Python ints; repeated fields are lists;
- a oneof is whichever one of its keys is set (encode refuses two);
- a key set to None is the same as an absent key;
- proto3 fields with no presence are not sent when they hold their default (0, "", False,
  the enum's zero value); `optional` fields, message fields and oneof members are sent
  whenever they are set, defaults included;
- decode fills in the defaults of fields with no presence (repeated ones as []) unless
  called with defaults=False; absent `optional`, message and oneof fields stay absent.

Bad input raises ValueError naming the field: "Stroke.points[2].x: expected a number, got str".
Standard library only: this module runs inside the editors' embedded Python.
"""

import math
import struct

from . import schema as _schema

__all__ = ["decode", "encode", "resolve"]

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5
_MASK64 = (1 << 64) - 1
_FLOAT32_MAX = 3.4028234663852886e38

_WIRE_TYPES = {
    "double": _I64,
    "float": _I32,
    "int64": _VARINT,
    "uint64": _VARINT,
    "int32": _VARINT,
    "fixed64": _I64,
    "fixed32": _I32,
    "bool": _VARINT,
    "string": _LEN,
    "bytes": _LEN,
    "message": _LEN,
    "uint32": _VARINT,
    "enum": _VARINT,
    "sfixed32": _I32,
    "sfixed64": _I64,
    "sint32": _VARINT,
    "sint64": _VARINT,
}
_INT_RANGES = {
    "int32": (-(1 << 31), (1 << 31) - 1),
    "sint32": (-(1 << 31), (1 << 31) - 1),
    "sfixed32": (-(1 << 31), (1 << 31) - 1),
    "enum": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
    "fixed32": (0, (1 << 32) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
    "sint64": (-(1 << 63), (1 << 63) - 1),
    "sfixed64": (-(1 << 63), (1 << 63) - 1),
    "uint64": (0, (1 << 64) - 1),
    "fixed64": (0, (1 << 64) - 1),
}
_STRUCTS = {
    "double": struct.Struct("<d"),
    "float": struct.Struct("<f"),
    "fixed32": struct.Struct("<I"),
    "sfixed32": struct.Struct("<i"),
    "fixed64": struct.Struct("<Q"),
    "sfixed64": struct.Struct("<q"),
}
_SCALAR_DEFAULTS = {"string": "", "bytes": b"", "bool": False, "double": 0.0, "float": 0.0}


def _varint(n):
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


class _Field:
    __slots__ = (
        "kind",
        "name",
        "number",
        "oneof",
        "packable",
        "packed",
        "packed_tag",
        "presence",
        "repeated",
        "tag",
        "type_name",
        "wire",
    )

    def __init__(self, f):
        self.name = f["name"]
        self.number = f["number"]
        self.kind = f["type"]
        self.type_name = f.get("type_name")
        self.repeated = bool(f.get("repeated"))
        self.packed = bool(f.get("packed"))
        self.oneof = f.get("oneof")
        # Explicit presence: sent whenever set, left out of decoded dicts when absent.
        self.presence = not self.repeated and (
            bool(f.get("optional")) or self.oneof is not None or self.kind == "message"
        )
        self.wire = _WIRE_TYPES[self.kind]
        self.tag = _varint((self.number << 3) | self.wire)
        self.packed_tag = _varint((self.number << 3) | _LEN)
        self.packable = self.repeated and self.wire != _LEN


class _Message:
    __slots__ = ("by_name", "by_number", "fields", "json_names", "name", "short")

    def __init__(self, name, m):
        self.name = name
        self.short = name.rsplit(".", 1)[-1]
        declared = [_Field(f) for f in m["fields"]]
        self.fields = sorted(declared, key=lambda f: f.number)
        self.by_name = {f.name: f for f in declared}
        self.by_number = {f.number: f for f in declared}
        self.json_names = {f["json_name"]: f["name"] for f in m["fields"]}


_MESSAGES = {name: _Message(name, m) for name, m in _schema.MESSAGES.items()}
_ENUMS = _schema.ENUMS
# number -> name; the first name declared wins when a number has aliases.
_ENUM_NAMES = {name: {} for name in _ENUMS}
for _name, _values in _ENUMS.items():
    for _value_name, _number in _values.items():
        _ENUM_NAMES[_name].setdefault(_number, _value_name)


def resolve(type_name):
    """The full name of a message type: "Stroke", "apprentice.v1.Stroke" and ".apprentice.v1.Stroke" all work."""
    name = type_name[1:] if type_name.startswith(".") else type_name
    if name in _MESSAGES:
        return name
    qualified = _schema.PACKAGE + "." + name
    if qualified in _MESSAGES:
        return qualified
    raise ValueError(f"unknown message type {type_name!r}")


def encode(type_name, value):
    """The binary protobuf encoding of `value`, a dict holding a `type_name` message."""
    msg = _MESSAGES[resolve(type_name)]
    out = bytearray()
    _encode_message(msg, value, msg.short, out)
    return bytes(out)


def decode(type_name, data, defaults=True):
    """The dict a binary `type_name` message holds; unknown fields are skipped."""
    msg = _MESSAGES[resolve(type_name)]
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _expected(msg.short, "bytes to decode", data)
    data = bytes(data)
    value = _decode_message(msg, data, 0, len(data), msg.short)
    return _with_defaults(msg, value) if defaults else value


# --- encoding -------------------------------------------------------------------------------


def _expected(path, what, v):
    return ValueError(f"{path}: expected {what}, got {type(v).__name__}")


def _check_int(kind, v, path):
    if isinstance(v, bool) or not isinstance(v, int):
        raise _expected(path, "an integer", v)
    lo, hi = _INT_RANGES[kind]
    if not lo <= v <= hi:
        raise ValueError(f"{path}: {v} is out of range for {kind} [{lo}, {hi}]")
    return v


def _scalar(f, v, path):
    """Checks one value of field `f`; returns it as the encoder wants it (enums as numbers)."""
    kind = f.kind
    if kind in ("float", "double"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _expected(path, "a number", v)
        v = float(v)
        if kind == "float" and math.isfinite(v) and abs(v) > _FLOAT32_MAX:
            raise ValueError(f"{path}: {v} is out of range for a 32-bit float")
        return v
    if kind == "enum":
        if isinstance(v, str):
            values = _ENUMS[f.type_name]
            if v not in values:
                short = f.type_name.rsplit(".", 1)[-1]
                raise ValueError(f"{path}: unknown {short} value {v!r} (expected one of {', '.join(values)})")
            return values[v]
        if isinstance(v, bool) or not isinstance(v, int):
            raise _expected(path, "an enum value name or number", v)
        return _check_int("enum", v, path)
    if kind == "bool":
        if not isinstance(v, bool):
            raise _expected(path, "True or False", v)
        return v
    if kind == "string":
        if not isinstance(v, str):
            raise _expected(path, "a str", v)
        try:
            return v.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{path}: not encodable as UTF-8 ({e.reason})") from None
    if kind == "bytes":
        if not isinstance(v, (bytes, bytearray, memoryview)):
            raise _expected(path, "bytes", v)
        return bytes(v)
    return _check_int(kind, v, path)


def _is_default(kind, v):
    if kind in ("string", "bytes"):
        return not v
    if kind in ("float", "double"):
        # -0.0 is not the default: its sign bit is sent, as other protobuf runtimes do.
        return v == 0.0 and math.copysign(1.0, v) > 0
    return v == 0  # ints, enums (as numbers) and bools


def _write_scalar(kind, v, out):
    """Writes a checked value without its key (length-prefixed for strings and bytes)."""
    if kind in ("string", "bytes"):
        out += _varint(len(v))
        out += v
    elif kind in ("int32", "int64", "enum"):
        out += _varint(v & _MASK64)
    elif kind in ("uint32", "uint64"):
        out += _varint(v)
    elif kind == "bool":
        out.append(1 if v else 0)
    elif kind == "sint32":
        out += _varint(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)
    elif kind == "sint64":
        out += _varint(((v << 1) ^ (v >> 63)) & _MASK64)
    else:
        out += _STRUCTS[kind].pack(v)


def _unknown_key(msg, key, path):
    if not isinstance(key, str):
        return ValueError(f"{path}: field names are strings, got {key!r}")
    hint = ""
    if key in msg.json_names:
        hint = f" (did you mean {msg.json_names[key]!r}? keys are the proto field names)"
    known = ", ".join(f.name for f in msg.fields)
    return ValueError(f"{path}: {msg.short} has no field {key!r}{hint}; its fields: {known}")


def _encode_message(msg, value, path, out):
    if not isinstance(value, dict):
        raise _expected(path, f"a dict (a {msg.short} message)", value)
    for key in value:
        if key not in msg.by_name:
            raise _unknown_key(msg, key, path)
    oneofs = {}
    for f in msg.fields:
        v = value.get(f.name)
        if v is None:
            continue
        p = path + "." + f.name
        if f.oneof is not None:
            if f.oneof in oneofs:
                raise ValueError(f"{path}: oneof {f.oneof!r} has more than one field set ({oneofs[f.oneof]}, {f.name})")
            oneofs[f.oneof] = f.name
        if f.repeated:
            if not isinstance(v, (list, tuple)):
                raise _expected(p, "a list", v)
            if not v:
                continue
            if f.packed:
                body = bytearray()
                for i, x in enumerate(v):
                    _write_scalar(f.kind, _scalar(f, x, f"{p}[{i}]"), body)
                out += f.packed_tag
                out += _varint(len(body))
                out += body
            else:
                for i, x in enumerate(v):
                    _encode_value(f, x, f"{p}[{i}]", out)
        elif f.presence or not _is_default(f.kind, _scalar(f, v, p)):
            _encode_value(f, v, p, out)


def _encode_value(f, v, path, out):
    """Writes one value of `f` with its key."""
    if f.kind == "message":
        body = bytearray()
        _encode_message(_MESSAGES[f.type_name], v, path, body)
        out += f.tag
        out += _varint(len(body))
        out += body
    else:
        out += f.tag
        _write_scalar(f.kind, _scalar(f, v, path), out)


# --- decoding -------------------------------------------------------------------------------


def _read_varint(data, pos, end, path):
    result = shift = 0
    while True:
        if pos >= end:
            raise ValueError(f"{path}: truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise ValueError(f"{path}: varint longer than 10 bytes")


def _skip(data, pos, end, wire, number, path):
    """Skips the value of an unknown field; returns the position after it."""
    if wire == _VARINT:
        return _read_varint(data, pos, end, path)[1]
    if wire == _I64:
        pos += 8
    elif wire == _I32:
        pos += 4
    elif wire == _LEN:
        n, pos = _read_varint(data, pos, end, path)
        pos += n
    elif wire == _SGROUP:
        while True:
            key, pos = _read_varint(data, pos, end, path)
            if key & 7 == _EGROUP:
                if key >> 3 != number:
                    raise ValueError(f"{path}: mismatched end of group {number}")
                return pos
            pos = _skip(data, pos, end, key & 7, key >> 3, path)
    else:
        raise ValueError(f"{path}: invalid wire type {wire} (field {number})")
    if pos > end:
        raise ValueError(f"{path}: truncated field {number}")
    return pos


def _signed(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _read_scalar(f, data, pos, end, path):
    """Reads one non-message value of `f` (in its own wire type); returns (value, position)."""
    kind = f.kind
    if f.wire == _VARINT:
        v, pos = _read_varint(data, pos, end, path)
        if kind == "enum":
            v = _signed(v, 32)
            return _ENUM_NAMES[f.type_name].get(v, v), pos
        if kind == "int32":
            return _signed(v, 32), pos
        if kind == "int64":
            return _signed(v, 64), pos
        if kind == "uint32":
            return v & 0xFFFFFFFF, pos
        if kind == "bool":
            return v != 0, pos
        if kind == "sint32":
            v &= 0xFFFFFFFF
            return (v >> 1) ^ -(v & 1), pos
        if kind == "sint64":
            return (v >> 1) ^ -(v & 1), pos
        return v, pos  # uint64
    if f.wire == _LEN:
        n, pos = _read_varint(data, pos, end, path)
        if pos + n > end:
            raise ValueError(f"{path}: truncated ({n} bytes announced, {end - pos} left)")
        raw = data[pos : pos + n]
        if kind == "string":
            try:
                return raw.decode("utf-8"), pos + n
            except UnicodeDecodeError:
                raise ValueError(f"{path}: invalid UTF-8") from None
        return raw, pos + n
    s = _STRUCTS[kind]
    if pos + s.size > end:
        raise ValueError(f"{path}: truncated {kind}")
    return s.unpack_from(data, pos)[0], pos + s.size


def _decode_message(msg, data, pos, end, path):
    """The fields present in data[pos:end], in declaration order."""
    out = {}
    while pos < end:
        key, pos = _read_varint(data, pos, end, path)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError(f"{path}: invalid field number 0")
        f = msg.by_number.get(number)
        packed = f is not None and f.packable and wire == _LEN
        if f is None or (wire != f.wire and not packed):
            # Unknown, or a wire type this schema does not expect: skipped, as other runtimes do.
            pos = _skip(data, pos, end, wire, number, path)
            continue
        p = path + "." + f.name
        if f.repeated:
            items = out.setdefault(f.name, [])
            if packed:
                n, pos = _read_varint(data, pos, end, p)
                stop = pos + n
                if stop > end:
                    raise ValueError(f"{p}: truncated packed field")
                while pos < stop:
                    v, pos = _read_scalar(f, data, pos, stop, f"{p}[{len(items)}]")
                    items.append(v)
            elif f.kind == "message":
                n, pos = _read_varint(data, pos, end, p)
                if pos + n > end:
                    raise ValueError(f"{p}[{len(items)}]: truncated message")
                items.append(_decode_message(_MESSAGES[f.type_name], data, pos, pos + n, f"{p}[{len(items)}]"))
                pos += n
            else:
                v, pos = _read_scalar(f, data, pos, end, f"{p}[{len(items)}]")
                items.append(v)
            continue
        if f.kind == "message":
            n, pos = _read_varint(data, pos, end, p)
            if pos + n > end:
                raise ValueError(f"{p}: truncated message")
            sub = _MESSAGES[f.type_name]
            v = _decode_message(sub, data, pos, pos + n, p)
            pos += n
            if isinstance(out.get(f.name), dict):
                # A message field seen twice: the second merges into the first.
                v = _merge(sub, out[f.name], v)
        else:
            v, pos = _read_scalar(f, data, pos, end, p)
        if f.oneof is not None:
            for other in msg.fields:
                if other.oneof == f.oneof and other is not f:
                    out.pop(other.name, None)
        out[f.name] = v
    if pos != end:
        raise ValueError(f"{path}: truncated message")
    # Declaration order reads best when printed.
    return {name: out[name] for name in msg.by_name if name in out}


def _merge(msg, old, new):
    merged = dict(old)
    for name, v in new.items():
        f = msg.by_name[name]
        if f.repeated:
            merged[name] = merged.get(name, []) + v
        elif f.kind == "message" and isinstance(merged.get(name), dict):
            merged[name] = _merge(_MESSAGES[f.type_name], merged[name], v)
        else:
            if f.oneof is not None:
                for other in msg.fields:
                    if other.oneof == f.oneof and other is not f:
                        merged.pop(other.name, None)
            merged[name] = v
    return merged


def _with_defaults(msg, value):
    """`value` with the defaults of its absent no-presence fields filled in, nested messages too."""
    out = {}
    for name, f in msg.by_name.items():
        if name in value:
            v = value[name]
            if f.kind == "message":
                sub = _MESSAGES[f.type_name]
                v = [_with_defaults(sub, x) for x in v] if f.repeated else _with_defaults(sub, v)
            out[name] = v
        elif f.repeated:
            out[name] = []
        elif f.presence:
            continue
        elif f.kind == "enum":
            out[name] = _ENUM_NAMES[f.type_name].get(0, 0)
        else:
            out[name] = _SCALAR_DEFAULTS.get(f.kind, 0)
    return out
