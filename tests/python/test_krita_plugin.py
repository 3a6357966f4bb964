"""The Krita plug-in's logic outside Krita: pen samples and brush settings into ops, the fill a
returned op asks for, the magic brush's dab and the cut of its pixels to a selection, and the
outbox that batches, numbers and resends ops to the real daemon."""

import io
import sys
import threading
import time

import pytest
from conftest import REPO, Daemon
from PIL import Image

sys.path.insert(0, str(REPO / "plugin-krita"))

from apprentice_krita import ops  # after the plug-in folder went on sys.path
from apprentice_krita.client import Client, paint
from apprentice_krita.outbox import Outbox

HEADER = {"width": 64, "height": 48, "background": {"r": 1.0, "g": 1.0, "b": 1.0, "a": 1.0}}


def stroke(x, size=4.0):
    recorder = ops.StrokeRecorder("TOOL_BRUSH", ops.brush_state(size, 1.0, 1.0, (10, 20, 30)))
    for i in range(5):
        recorder.add(x, 4 + 8 * i, 0.5 + 0.1 * i, 1000.0 + 16 * i)
    return recorder.op()


# ---- ops from what Krita shows ----


def test_a_stroke_keeps_positions_pressure_and_time_since_pen_down():
    op = stroke(10.0)
    points = op["stroke"]["points"]
    assert [(p["x"], p["y"]) for p in points] == [(10.0, 4.0), (10.0, 12.0), (10.0, 20.0), (10.0, 28.0), (10.0, 36.0)]
    assert [p["pressure"] for p in points] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert [p["time_ms"] for p in points] == [0, 16, 32, 48, 64]


def test_samples_that_do_not_move_or_press_differently_are_dropped():
    recorder = ops.StrokeRecorder("TOOL_BRUSH", ops.brush_state(4, 1, 1, (0, 0, 0)))
    for t in range(10):
        recorder.add(5.0 + 0.01 * t, 5.0, 1.0, t)
    recorder.add(5.0, 5.0, 0.4, 11)  # same place, lighter pen: kept
    assert len(recorder.op()["stroke"]["points"]) == 2
    assert ops.StrokeRecorder("TOOL_BRUSH", {}).op() is None


def test_the_tool_comes_from_the_eraser_toggle_then_the_preset_name():
    assert ops.tool_for("b) Basic-5 Size Opacity", eraser_mode=False) == "TOOL_BRUSH"
    assert ops.tool_for("b) Basic-5 Size Opacity", eraser_mode=True) == "TOOL_ERASER"
    assert ops.tool_for("b) Airbrush Soft", False) == "TOOL_AIRBRUSH"
    assert ops.tool_for("c) Pencil-2", False) == "TOOL_PENCIL"
    assert ops.tool_for("u) Pixel Art", False) == "TOOL_PENCIL"
    assert ops.tool_for("k) Blender Basic", False) == "TOOL_SMUDGE"
    assert ops.tool_for("a) Eraser Circle", False) == "TOOL_ERASER"
    assert ops.tool_for("", False) == "TOOL_BRUSH"


def test_brush_state_maps_krita_blend_modes_and_colours():
    state = ops.brush_state(12, 0.5, 0.25, (255, 128, 0), "multiply", hardness=0.9)
    assert state == {
        "size": 12.0,
        "opacity": 0.5,
        "flow": 0.25,
        "color": {"r": 1.0, "g": 128 / 255, "b": 0.0, "a": 1.0},
        "blend": "BLEND_MODE_MULTIPLY",
        "hardness": 0.9,
    }
    assert paint.color8(state["color"]) == (255, 128, 0)
    assert ops.brush_state(1, 1, 1, (0, 0, 0), "color-dodge")["blend"] == "BLEND_MODE_NORMAL"


def test_recorded_ops_are_valid_for_the_daemon(client):
    s = client.open_session({"document_id": "krita-plugin-valid-ops", "header": HEADER})
    batch = [stroke(10.0), ops.fill_op(30, 30, (0, 255, 0), 0.03), ops.undo_op(), ops.redo_op(2)]
    r = client.append_ops({"session_id": s["session_id"], "sequence": s["next_sequence"], "ops": batch})
    assert r["op_count"] == 4


# ---- painting returned ops ----


def test_densify_joins_control_points_with_straight_segments_and_linear_pressure():
    samples = paint.densify([{"x": 0, "y": 0, "pressure": 0.0}, {"x": 10, "y": 0, "pressure": 1.0}], step=2.5)
    assert samples == [(0, 0, 0), (2.5, 0, 0.25), (5, 0, 0.5), (7.5, 0, 0.75), (10, 0, 1.0)]
    assert paint.densify([{"x": 3, "y": 4}], 1) == [(3.0, 4.0, 1.0)]  # pressure absent: 1, as in the engine
    assert paint.densify([], 1) == []


def bgra_canvas(width, height, ring):
    """White, with a black square outline `ring` = (x0, y0, x1, y1)."""
    data = bytearray(b"\xff" * (width * height * 4))
    x0, y0, x1, y1 = ring
    for y in range(height):
        for x in range(width):
            if (x in (x0, x1) and y0 <= y <= y1) or (y in (y0, y1) and x0 <= x <= x1):
                data[(y * width + x) * 4 : (y * width + x) * 4 + 4] = b"\x00\x00\x00\xff"
    return bytes(data)


def test_a_contiguous_fill_stops_at_a_closed_outline():
    w, h = 20, 16
    mask = paint.fill_mask(bgra_canvas(w, h, (4, 4, 12, 10)), w, h, 8, 7, tolerance=0.0)
    inside = {(x, y) for y in range(h) for x in range(w) if mask[y * w + x]}
    assert inside == {(x, y) for x in range(5, 12) for y in range(5, 10)}


def test_a_fill_outside_the_outline_covers_everything_but_the_outline_and_its_inside():
    w, h = 20, 16
    mask = paint.fill_mask(bgra_canvas(w, h, (4, 4, 12, 10)), w, h, 0, 0, tolerance=0.0)
    assert sum(1 for v in mask if v) == w * h - 9 * 7
    non_contiguous = paint.fill_mask(bgra_canvas(w, h, (4, 4, 12, 10)), w, h, 0, 0, 0.0, contiguous=False)
    assert sum(1 for v in non_contiguous if v) == w * h - (9 * 7 - 7 * 5)  # the inside is white too


def test_fill_tolerance_is_per_channel_like_the_engine():
    w, h = 4, 1
    row = bytes([200, 200, 200, 255, 190, 200, 200, 255, 150, 200, 200, 255, 200, 200, 200, 255])
    assert paint.fill_mask(row, w, h, 0, 0, tolerance=10 / 255) == b"\xff\xff\x00\x00"
    assert paint.fill_mask(row, w, h, 0, 0, tolerance=50 / 255) == b"\xff\xff\xff\xff"
    with pytest.raises(ValueError, match=r"fill at \(4, 0\) is outside the 4x1 image"):
        paint.fill_mask(row, w, h, 4, 0, 0.0)


def test_krita_bgra_becomes_rgba_for_snapshots():
    assert ops.bgra_to_rgba(bytes([1, 2, 3, 4, 5, 6, 7, 8])) == bytes([3, 2, 1, 4, 7, 6, 5, 8])


# ---- the magic brush ----


def magic_brush(client, history, dab):
    """The daemon's MagicBrush on a history: (progress events, done event)."""
    with client.magic_brush({"history": history, "dab": dab}) as stream:
        events = list(stream)
    return [e["progress"] for e in events if "progress" in e], events[-1]["done"]


def alpha_at(patch, x, y):
    i = ((y - patch.get("y", 0)) * patch["width"] + (x - patch.get("x", 0))) * 4 + 3
    return patch["rgba"][i]


@pytest.mark.parametrize("rect", [(10, 8, 30, 20), (0, 0, 64, 48), (20, 20, 3, 25), (5, 40, 50, 1)])
def test_the_dab_sent_for_a_selection_covers_its_rectangle_fully_in_the_daemons_mask(client, rect):
    # The RPC takes a path and a radius, not a mask: the rows must leave no selected pixel
    # half-painted, whatever the rectangle's shape.
    x, y, w, h = rect
    path, radius = paint.cover_path(x, y, w, h)
    dab = paint.magic_dab(path, radius, strength=1.0, seed=3)
    progress, done = magic_brush(client, {"header": HEADER, "ops": []}, dab)
    result = done["op"]["magic_brush"]["result"]
    assert progress[-1] == {"step": 7, "steps": 8}
    assert all(alpha_at(result, px, py) == 255 for py in range(y, y + h) for px in range(x, x + w))


def test_a_prompt_or_a_style_guides_a_dab_not_both():
    path, radius = paint.disc_path(5, 6, brush_size=30)
    assert (path, radius) == ([{"x": 5.0, "y": 6.0}], 15.0)
    assert paint.magic_dab(path, radius, prompt=" a barn ")["prompt"] == "a barn"
    assert paint.magic_dab(path, radius, style="ink") == {
        "path": path,
        "radius": 15.0,
        "strength": 1.0,
        "seed": 0,
        "texture": 1.0,
        "style": "ink",
    }
    # The editors ask for the picture's own texture by default; 0 asks for the smooth fill.
    assert paint.magic_dab(path, radius, texture=0)["texture"] == 0.0
    with pytest.raises(ValueError, match="a prompt or a style, not both"):
        paint.magic_dab(path, radius, prompt="a barn", style="ink")
    # A small brush still makes a dab the daemon can paint.
    assert paint.disc_path(0, 0, brush_size=1)[1] == paint.MAGIC_RADIUS[0]


def test_the_brushes_pixels_are_cut_to_the_selection_and_its_softness():
    # A 4x2 patch at (10, 20), alpha 200; the selection: 3x3 at (12, 21), one soft pixel.
    patch = {"x": 10, "y": 20, "width": 4, "height": 2, "rgba": bytes([9, 8, 7, 200]) * 8, "mode": "PATCH_MODE_OVER"}
    selection = bytes([255, 128, 0, 255, 255, 255, 0, 0, 0])
    clipped = paint.clip_patch(patch, selection, 12, 21, 3, 3)
    assert (clipped["x"], clipped["y"], clipped["width"], clipped["height"]) == (12, 21, 2, 1)
    assert clipped["rgba"] == bytes([9, 8, 7, 200, 9, 8, 7, 100])
    assert clipped["mode"] == "PATCH_MODE_OVER"
    assert paint.clip_patch(patch, selection, 40, 40, 3, 3) is None  # no overlap: nothing to paint


def test_a_dab_with_recorded_pixels_is_painted_from_them_and_one_without_is_not():
    result = {"x": 1, "y": 2, "width": 1, "height": 1, "rgba": b"\x00\x00\x00\xff"}
    assert paint.patch_of({"magic_brush": {"radius": 3.0, "result": result}}) == result
    assert paint.patch_of({"magic_brush": {"radius": 3.0}}) is None
    assert paint.patch_of({"raster_patch": result}) == result


def test_a_dab_cut_to_a_selection_is_stored_by_the_daemon_and_replayed_from_its_pixels(client):
    # A picture: red left, blue right (a pasted patch); the selection: a ring across both.
    w, h = HEADER["width"], HEADER["height"]
    picture = b"".join(bytes([200, 0, 0, 255] if x < w // 2 else [0, 0, 200, 255]) for _ in range(h) for x in range(w))
    history = {"header": HEADER, "ops": [{"raster_patch": {"width": w, "height": h, "rgba": picture}}]}
    path, radius = paint.cover_path(22, 14, 20, 20)
    _, done = magic_brush(client, history, paint.magic_dab(path, radius, prompt="a barn", seed=5))
    assert "reads no text" in done["note"]
    ring = bytes(255 if (i % 20 in (0, 19) or i // 20 in (0, 19)) else 0 for i in range(400))
    result = paint.clip_patch(done["op"]["magic_brush"]["result"], ring, 22, 14, 20, 20)
    # What the docker records: the dab with its pixels as painted in Krita (cut to the selection).
    s = client.open_session({"document_id": "krita-plugin-magic-recorded", "header": HEADER})
    recorded = [*history["ops"], {"magic_brush": dict(done["op"]["magic_brush"], result=result)}]
    client.append_ops({"session_id": s["session_id"], "sequence": s["next_sequence"], "ops": recorded})
    before = Image.frombytes("RGBA", (w, h), picture).convert("RGB")
    after = Image.open(io.BytesIO(client.render({"session_id": s["session_id"]})["png"])).convert("RGB")
    changed = {(x, y) for y in range(h) for x in range(w) if before.getpixel((x, y)) != after.getpixel((x, y))}
    on_ring = {(22 + i % 20, 14 + i // 20) for i in range(400) if ring[i]}
    assert changed and changed <= on_ring
    # Where the ring is fully selected the render is the recorded pixels themselves.
    i = ((14 - result["y"]) * result["width"] + (30 - result["x"])) * 4
    assert after.getpixel((30, 14)) == tuple(result["rgba"][i : i + 3])


# ---- the outbox, against the real daemon ----


class Address:
    """What the plug-in's settings would say: the daemon's address may change on restart."""

    def __init__(self, address):
        self.address = address

    def client(self):
        return Client(self.address, timeout=10.0)


def wait_for(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_ops_go_in_numbered_batches_and_arrive_in_order(daemon, client):
    box = Outbox(Address(daemon.address).client, "krita-plugin-order", HEADER, batch_size=8, linger=0.05)
    strokes = [stroke(float(i % 60)) for i in range(50)]
    for op in strokes:
        box.put([op])  # never waits: the UI thread calls this
    assert box.flush(timeout=30)
    history = client.get_history({"session_id": box.session_id})
    assert [op["stroke"]["points"][0]["x"] for op in history["ops"]] == [float(i % 60) for i in range(50)]
    info = client.open_session({"document_id": "krita-plugin-order", "header": HEADER})
    assert info["op_count"] == 50 and info["next_sequence"] >= 7  # 50 ops in batches of at most 8
    box.close()


def test_ops_put_while_the_daemon_is_down_are_sent_when_it_is_back(tmp_path):
    first = Daemon(tmp_path / "d")
    address = Address(first.address)
    box = Outbox(address.client, "krita-plugin-restart", HEADER, batch_size=4, linger=0.02)
    box.retry_delay = (0.05, 0.2)
    box.put([stroke(1.0), stroke(2.0)])
    assert box.flush(timeout=20)
    first.stop()
    box.put([stroke(3.0), stroke(4.0), stroke(5.0)])
    wait_for(lambda: box.error is not None)
    assert "not reachable" in box.error
    assert box.pending() == 3
    second = Daemon(tmp_path / "d")  # the same data folder, on a new port
    try:
        address.address = second.address
        assert box.flush(timeout=20)
        assert box.error is None
        history = Client(second.address).get_history({"session_id": box.session_id})
        assert [op["stroke"]["points"][0]["x"] for op in history["ops"]] == [1.0, 2.0, 3.0, 4.0, 5.0]
    finally:
        box.close()
        second.stop()


def test_an_op_the_daemon_refuses_is_set_aside_and_the_rest_are_stored(daemon, client):
    box = Outbox(Address(daemon.address).client, "krita-plugin-bad-op", HEADER, linger=0.05)
    bad = {"fill": {"x": 500.0, "y": 5.0, "color": {"r": 1.0}}}  # outside the 64x48 canvas
    box.put([stroke(1.0), bad, stroke(2.0)])
    assert box.flush(timeout=20)
    assert len(box.rejected) == 1 and box.rejected[0][0] == bad
    assert "fill.x" in box.rejected[0][1] or "ops[1]" in box.rejected[0][1]
    history = client.get_history({"session_id": box.session_id})
    assert len(history["ops"]) == 2
    box.close()


def test_a_snapshot_follows_the_ops_put_before_it(daemon, client):
    box = Outbox(Address(daemon.address).client, "krita-plugin-snapshot", HEADER, linger=0.05)
    box.put([stroke(1.0), stroke(2.0)])
    red = bytes([255, 0, 0, 255]) * (64 * 48)
    box.snapshot(red)
    assert box.flush(timeout=20)
    png = client.render({"session_id": box.session_id})["png"]
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    assert image.getpixel((40, 40)) == (255, 0, 0, 255)  # the daemon now sees what Krita showed
    # Big canvases go as PNG.
    blue = io.BytesIO()
    Image.new("RGBA", (64, 48), (0, 0, 255, 255)).save(blue, "PNG")
    box.put([stroke(3.0)])
    box.snapshot(blue.getvalue(), "png")
    assert box.flush(timeout=20)
    png = client.render({"session_id": box.session_id})["png"]
    assert Image.open(io.BytesIO(png)).convert("RGBA").getpixel((40, 40)) == (0, 0, 255, 255)
    with pytest.raises(ValueError, match="snapshot encoding 'jpeg': rgba or png"):
        box.snapshot(b"", "jpeg")
    box.close()


def test_put_never_waits_for_the_network():
    # Nothing listens on this port: put() must still return at once.
    box = Outbox(Address("127.0.0.1:9").client, "krita-plugin-offline", HEADER)
    box.retry_delay = (0.05, 0.1)
    t0 = time.monotonic()
    for _ in range(100):
        box.put([stroke(1.0)])
    assert time.monotonic() - t0 < 0.5
    assert box.flush(timeout=0.3) is False
    assert box.pending() == 100
    assert threading.active_count() >= 2
    box.close()
