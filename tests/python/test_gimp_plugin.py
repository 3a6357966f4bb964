"""The GIMP plug-in's logic outside GIMP: ops as GIMP calls, the image's session with the real
daemon, the settings and the PNG writer. (In real GIMP: test_gimp_e2e.py; its installer is
`apprentice install gimp`: tests/tests/install.rs.)"""

import io
import itertools
import sys

import pytest
from conftest import REPO
from PIL import Image

sys.path.insert(0, str(REPO / "plugin-gimp" / "apprentice-gimp"))

from apprentice_client import RpcError, png
from apprentice_gimp import plan, session, settings


def stroke(tool="TOOL_BRUSH", points=((10, 10), (50, 20)), **brush):
    pts = [dict(x=float(p[0]), y=float(p[1]), **({"pressure": p[2]} if len(p) > 2 else {})) for p in points]
    return {"stroke": {"tool": tool, "brush": dict({"size": 12.0, "color": {"r": 1.0}}, **brush), "points": pts}}


# ---- ops as GIMP calls ----


@pytest.mark.parametrize(
    ("tool", "procedure"),
    [
        ("TOOL_BRUSH", "paintbrush"),
        ("TOOL_AIRBRUSH", "airbrush"),
        ("TOOL_PENCIL", "pencil"),
        ("TOOL_ERASER", "eraser"),
        ("TOOL_SMUDGE", "smudge"),
    ],
)
def test_each_tool_is_painted_with_its_gimp_procedure(tool, procedure):
    steps = plan.plan(stroke(tool))
    assert [name for name, _ in steps] == ["context", procedure]
    assert steps[1][1]["strokes"] == [10.0, 10.0, 50.0, 20.0]


def test_the_context_carries_the_brush_of_the_op():
    (_, ctx), _ = plan.plan(
        stroke(size=20.0, opacity=0.5, color={"r": 0.2, "g": 0.4, "b": 0.6}, blend="BLEND_MODE_MULTIPLY", hardness=1.0)
    )
    assert ctx["foreground"] == (51, 102, 153)
    assert ctx["size"] == 20.0 and ctx["hardness"] == 1.0
    assert ctx["opacity"] == pytest.approx(50.0)
    assert ctx["mode"] == "MULTIPLY_LEGACY", "blended in sRGB, as the daemon blends"
    # Absent fields take the proto's defaults: black, hardness 0.5, spacing 0.1.
    (_, ctx), _ = plan.plan({"stroke": {"brush": {"size": 4.0}, "points": [{"x": 1.0, "y": 2.0}]}})
    assert ctx["foreground"] == (0, 0, 0) and ctx["spacing"] == 0.1 and ctx["mode"] == "NORMAL_LEGACY"
    assert (ctx["hardness"], ctx["size"]) == (plan.gimp_hardness(0.5)[0], 4.0 * plan.gimp_hardness(0.5)[1])


def test_a_single_point_is_one_dab():
    _, (_, a) = plan.plan(stroke(points=[(7, 8)]))
    assert a["strokes"] == [7.0, 8.0, 7.0, 8.0]


def test_a_stroke_whose_pressure_varies_is_painted_as_runs_of_its_pressure():
    steps = plan.plan(stroke(points=[(0, 0, 0.2), (100, 0, 1.0)], size=10.0))
    contexts = [a for name, a in steps if name == "context"]
    paths = [a["strokes"] for name, a in steps if name != "context"]
    assert len(contexts) == len(paths) >= 8
    sizes = [c["size"] for c in contexts]
    assert sizes == sorted(sizes) and sizes[0] < 3.0 and sizes[-1] == pytest.approx(10.0 * plan.gimp_hardness(0.5)[1])
    # The runs join into one unbroken path from the first point to the last.
    assert paths[0][:2] == [0.0, 0.0] and paths[-1][-2:] == [100.0, 0.0]
    assert all(a[-2:] == b[:2] for a, b in itertools.pairwise(paths))


def test_flow_becomes_the_level_the_daemons_dabs_build_up_to():
    assert plan.built_up(1.0, 0.1, 0.5) == 1.0
    soft, hard = plan.built_up(0.5, 0.1, 0.0), plan.built_up(0.5, 0.1, 1.0)
    assert 0.8 < soft < hard < 1.0, "a soft dab's rim adds less than a hard dab's"
    assert plan.built_up(0.1, 0.1, 0.5) < plan.built_up(0.1, 0.02, 0.5), "closer dabs build up more"


def test_daemon_hardness_maps_onto_gimps_softer_generated_brush():
    rows = [plan.gimp_hardness(h / 10) for h in range(11)]
    assert [g for g, _ in rows] == sorted(g for g, _ in rows), "harder stays harder"
    assert rows[-1] == (1.0, 1.0) and rows[0][0] > 0.5


def test_fills_patches_and_dabs_become_their_steps():
    ((name, a),) = plan.plan({"fill": {"x": 3.0, "y": 4.0, "color": {"g": 1.0}, "tolerance": 0.2}})
    assert name == "fill" and a == {
        "x": 3.0,
        "y": 4.0,
        "threshold": 0.2,
        "contiguous": False,
        "foreground": (0, 255, 0),
    }
    patch = {"x": -2, "y": 1, "width": 2, "height": 1, "rgba": b"\x01\x02\x03\x04\x05\x06\x07\x08"}
    ((name, a),) = plan.plan({"raster_patch": dict(patch, mode="PATCH_MODE_REPLACE")})
    assert name == "patch" and a["replace"] and a["rgba"] == patch["rgba"]
    ((name, a),) = plan.plan({"magic_brush": {"path": [{"x": 1.0}], "radius": 3.0, "result": patch}})
    assert name == "patch" and not a["replace"]


def test_what_the_plug_in_cannot_paint_is_said_in_words():
    with pytest.raises(plan.NotPainted, match="without its pixels"):
        plan.plan({"magic_brush": {"path": [{"x": 1.0}], "radius": 3.0}})
    with pytest.raises(plan.NotPainted, match="undo is not painted"):
        plan.plan({"undo": {}})
    with pytest.raises(plan.NotPainted, match="2x2 patch with 3 bytes"):
        plan.plan({"raster_patch": {"width": 2, "height": 2, "rgba": b"abc"}})


def test_a_patch_is_cut_to_the_canvas():
    rgba = bytes(range(4 * 3 * 2))  # 3x2
    assert plan.crop(0, 0, 3, 2, rgba, 10, 10) == (0, 0, 3, 2, rgba)
    x, y, w, h, cut = plan.crop(-1, 1, 3, 2, rgba, 10, 2)
    assert (x, y, w, h) == (0, 1, 2, 1) and cut == rgba[4:12]
    assert plan.crop(20, 0, 3, 2, rgba, 10, 10) is None


def test_a_gimp_path_stroke_becomes_a_magic_brush_path():
    assert plan.path_points([0, 0, 0.2, 0.1, 5, 0, 5, 0, 5, 6]) == [
        {"x": 0.0, "y": 0.0},
        {"x": 5.0, "y": 0.0},
        {"x": 5.0, "y": 6.0},
    ]


# ---- the image's session, against the real daemon ----


def test_an_image_keeps_its_document_id_and_gets_one_when_it_has_none():
    doc_id, new = session.document_id(None)
    assert new and doc_id.startswith("gimp-")
    assert session.document_id(doc_id.encode()) == (doc_id, False)
    assert session.document_id(b"\xff bad id \x00")[1], "a damaged id is replaced"


def test_a_session_is_shown_the_canvas_and_stores_what_was_painted(client):
    s = session.Session(client, session.new_document_id(), 32, 24, "3.0.4").open()
    assert (s.op_count, s.sequence) == (0, 0)
    s.snapshot(bytes([200, 100, 50, 255]) * (32 * 24))
    ops = [stroke(points=[(1, 1), (30, 20)]), {"fill": {"x": 2.0, "y": 2.0, "color": {"b": 1.0}}}]
    assert s.record(ops) == 2
    assert s.op_count == 2
    history = client.get_history({"session_id": s.session_id})
    assert [next(iter(op)) for op in history["ops"]] == ["stroke", "fill"]
    # The same image opened again: the same session, continued.
    again = session.Session(client, s.document_id, 32, 24).open()
    assert (again.session_id, again.op_count, again.sequence) == (s.session_id, 2, 1)


def test_big_canvases_go_as_png(client, monkeypatch):
    monkeypatch.setattr(session, "RAW_SNAPSHOT_LIMIT", 100)
    s = session.Session(client, session.new_document_id(), 16, 16).open()
    s.snapshot(bytes([10, 20, 30, 255]) * 256)  # 1 KiB: over the limit
    render = Image.open(io.BytesIO(client.render({"session_id": s.session_id})["png"])).convert("RGBA")
    assert render.getpixel((5, 5)) == (10, 20, 30, 255)
    with pytest.raises(ValueError, match="a snapshot of 3 bytes for a 16x16 canvas"):
        s.snapshot(b"abc")


def test_another_writer_and_an_op_the_daemon_refuses_do_not_lose_the_rest(client):
    s = session.Session(client, session.new_document_id(), 32, 24).open()
    other = session.Session(client, s.document_id, 32, 24).open()
    other.record([stroke()])  # another client appended: s's sequence number is taken
    bad = stroke(size=-3.0)
    assert s.record([stroke(), bad, stroke()]) == 2
    assert len(s.rejected) == 1 and "size" in s.rejected[0][1]
    assert s.op_count == 3


def test_a_daemon_that_is_down_is_said_in_words():
    from apprentice_client import Client

    s = session.Session(Client("127.0.0.1:9", timeout=2.0), "gimp-x", 8, 8)
    with pytest.raises(session.Unreachable, match=r"not reachable at 127\.0\.0\.1:9.*apprentice serve"):
        s.open()


def test_other_refusals_reach_the_caller(client):
    s = session.Session(client, session.new_document_id(), 8, 8).open()
    s.session_id = "no-such-session"
    with pytest.raises(RpcError) as e:
        s.record([stroke()])
    assert e.value.code_name == "NOT_FOUND"


# ---- settings ----


def test_settings_round_trip_and_fall_back_to_the_defaults():
    stored = settings.dump("http://example.org:47820/", " secret ")
    assert settings.load(stored) == {"address": "example.org:47820", "token": "secret"}
    assert settings.load(None) == settings.DEFAULTS
    assert settings.load(b"{not json")["address"] == settings.DEFAULTS["address"]
    assert settings.check_address("[::1]:80") == "[::1]:80"


@pytest.mark.parametrize("bad", ["localhost", "host:0", "host:99999", "a b:1", ""])
def test_a_bad_address_is_refused_naming_it(bad):
    if bad == "":
        assert settings.dump(bad) == settings.dump(settings.DEFAULTS["address"]), "empty: the default"
        return
    with pytest.raises(ValueError, match="expected host:port"):
        settings.dump(bad)


def test_the_daemons_answer_is_described_for_the_painter(client):
    text = settings.describe(client.get_info())
    assert text.startswith("Apprentice daemon ") and "on cpu" in text and "Magic-brush models:" in text


# ---- PNG ----


def test_png_files_decode_to_the_pixels_written():
    rgba = bytes((x * 7 + y * 13 + c * 50) % 256 for y in range(5) for x in range(7) for c in range(4))
    decoded = Image.open(io.BytesIO(png.encode(rgba, 7, 5)))
    assert decoded.mode == "RGBA" and decoded.size == (7, 5) and decoded.tobytes() == rgba
    with pytest.raises(ValueError, match="needs 140"):
        png.encode(rgba[:-1], 7, 5)
    with pytest.raises(ValueError, match="at least 1"):
        png.encode(b"", 0, 5)
