"""The official protobuf runtime as the oracle: messages built from the tests' dicts, and back.

The `pb` fixture (conftest.py) must have loaded the generated modules into the default pool.
"""

import base64

from google.protobuf import descriptor_pool, json_format, message_factory


def message_class(pb, name):
    """The official class of apprentice.v1.`name` (pb makes sure it is in the default pool)."""
    assert pb is not None
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName("apprentice.v1." + name))


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    return v


def official(pb, name, value):
    """The official message holding `value`, built by json_format from the proto field names."""
    return json_format.ParseDict(_jsonable(value), message_class(pb, name)())


def as_dict(msg):
    """An official message as wire.decode returns it: presence fields only when set, defaults filled."""
    out = {}
    for f in msg.DESCRIPTOR.fields:
        if f.is_repeated:
            out[f.name] = [_value(f, x) for x in getattr(msg, f.name)]
        elif not f.has_presence or msg.HasField(f.name):
            out[f.name] = _value(f, getattr(msg, f.name))
    return out


def _value(f, v):
    if f.message_type is not None:
        return as_dict(v)
    if f.enum_type is not None:
        known = f.enum_type.values_by_number.get(v)
        return known.name if known is not None else v
    return v
