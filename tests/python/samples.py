"""Messages the tests send: every op kind, optional fields present (defaults too) and absent.

Values are exact in 32 bits so that what comes back compares equal; no field with no
presence holds its default, so a message decodes to exactly what was written.
"""

PATCH_RGBA = bytes((i * 37 + 11) % 256 for i in range(4 * 3 * 4))


def rich_history():
    """A valid 64x48 history that uses every op, tool, and optional field."""
    return {
        "header": {
            "width": 64,
            "height": 48,
            "background": {"r": 1.0, "g": 0.75, "b": 0.5},
            "title": "still life \u2014 \u00e9t\u00e9 \u2713",
        },
        "ops": [
            {
                "stroke": {
                    "tool": "TOOL_BRUSH",
                    "brush": {
                        "size": 12.5,
                        "opacity": 0.0,  # present, and its default: still sent
                        "flow": 0.5,
                        "hardness": 1.0,
                        "spacing": 0.25,
                        "color": {"r": 0.25, "g": 0.5, "b": 0.75, "a": 0.0},
                        "blend": "BLEND_MODE_MULTIPLY",
                    },
                    "points": [
                        {"x": 1.5, "y": 2.5, "pressure": 0.0},
                        {"x": -3.25, "y": 40.0, "pressure": 0.5, "time_ms": 16, "tilt": {"x": -45.0, "y": 30.0}},
                        {"x": 60.0, "y": 47.75, "time_ms": 4294967295},
                    ],
                }
            },
            {
                "stroke": {
                    "tool": "TOOL_AIRBRUSH",
                    "brush": {"size": 30.0, "flow": 0.125, "blend": "BLEND_MODE_SCREEN"},
                    "points": [{"x": 32.0, "y": 24.0}, {"x": 33.0, "y": 24.0, "time_ms": 200}],
                }
            },
            {"stroke": {"tool": "TOOL_PENCIL", "brush": {"size": 1.0, "color": {"g": 1.0}}, "points": [{"x": 5.0}]}},
            {"stroke": {"tool": "TOOL_ERASER", "brush": {"size": 8.0, "hardness": 0.0}, "points": [{"y": 9.0}]}},
            {
                "stroke": {
                    "tool": "TOOL_SMUDGE",
                    "brush": {"size": 16.0, "smudge_rate": 0.75, "spacing": 0.0625, "blend": "BLEND_MODE_ADD"},
                    "points": [{"x": 10.0, "y": 10.0}, {"x": 20.0, "y": 12.0, "time_ms": 33}],
                }
            },
            {"fill": {"x": 10.0, "y": 20.5, "color": {"r": 0.5, "a": 0.5}, "tolerance": 0.25, "contiguous": True}},
            {"fill": {"x": 63.5, "y": 0.5}},
            {
                "magic_brush": {
                    "path": [{"x": 1.0, "y": 2.0}, {"x": -4.0, "y": 8.5}],
                    "radius": 24.0,
                    "prompt": "a red apple, oil on canvas",
                    "strength": 0.75,
                    "seed": 18446744073709551615,  # the largest uint64
                }
            },
            # A oneof member holding its default is still set (and sent).
            {"magic_brush": {"path": [{"x": 5.0}], "radius": 1.0, "style": "", "strength": 1.0, "seed": 1}},
            {
                "raster_patch": {
                    "x": -5,
                    "y": -2,
                    "width": 4,
                    "height": 3,
                    "rgba": PATCH_RGBA,
                    "mode": "PATCH_MODE_REPLACE",
                }
            },
            {"raster_patch": {"x": 60, "width": 1, "height": 1, "rgba": b"\x00\xff\x10\x80"}},
            {"undo": {}},
            {"undo": {"count": 2}},
            {"redo": {}},
            {"redo": {"count": 1}},
        ],
    }


def other_messages():
    """(type name, message) pairs for the other field kinds: int64, repeated strings and enums, bytes."""
    return [
        (
            "SessionInfo",
            {
                "session_id": "s-1",
                "document_id": "doc",
                "header": {"width": 1, "height": 16384},
                "editor": "gimp",
                "editor_version": "3.0.4",
                "op_count": 18446744073709551615,
                "next_sequence": 7,
                "created_ms": -1234567890123,
                "updated_ms": 9223372036854775807,
            },
        ),
        (
            "ContinueRequest",
            {
                "history": rich_history(),
                "count": 1000,
                "temperature": 0.0,
                "seed": 9223372036854775808,
                "reference_png": b"\x89PNG\r\n\x1a\n\x00\x00",
                "allowed_tools": ["TOOL_BRUSH", "TOOL_SMUDGE", "TOOL_PENCIL"],
                "painter": "sketch",
            },
        ),
        ("ContinueRequest", {"session_id": "", "count": 3}),
        ("UploadSnapshotRequest", {"session_id": "abc", "op_count": 3, "rgba": bytes(range(16))}),
        ("UploadSnapshotRequest", {"session_id": "abc", "png": b""}),
        ("Info", {"version": "0.1.0", "device": "cpu", "models": ["a", "", "b"], "painters": ["sketch"]}),
        ("RenderRequest", {"session_id": "x", "max_side": 256}),
        ("AppendOpsResponse", {"next_sequence": 2, "op_count": 10, "duplicate": True}),
        ("ListSessionsRequest", {}),
        ("Color", {"r": -0.0, "g": -1.5, "b": 3.4028234663852886e38}),
    ]
