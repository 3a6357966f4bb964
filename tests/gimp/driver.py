# The GIMP plug-in's end-to-end driver: runs inside real GIMP 3 (gimp-console, python-fu-eval
# batch), against the real daemon. tests/python/gimp_env.py writes params.json beside this file
# (the scenario, the daemon's address, its inputs) and reads out/report.json and the PNGs back.
# Scenarios call the plug-in's PDB procedures as a script would; "apply" paints ops through
# the plug-in's own modules (apprentice_gimp.plan and .painting) to measure fidelity.
import json
import os
import subprocess
import sys
import time
import traceback

from gi.repository import Gimp, Gio

BASE = os.path.dirname(os.environ["APPRENTICE_E2E_PARAMS"])
with open(os.environ["APPRENTICE_E2E_PARAMS"]) as f:
    PARAMS = json.load(f)
OUT = os.path.join(BASE, "out")
PDB = Gimp.get_pdb()
sys.path.insert(0, os.path.join(os.environ["GIMP3_DIRECTORY"], "plug-ins", "apprentice-gimp"))
from apprentice_client import png
from apprentice_gimp import painting, plan

report = {"gimp": Gimp.version()}


def call(name, image=None, drawables=(), **props):
    """Runs a PDB procedure (without its dialog unless run_mode is INTERACTIVE): (status name,
    return values, error message)."""
    proc = PDB.lookup_procedure(name)
    if proc is None:
        raise RuntimeError(f"GIMP does not know {name}: the plug-in was not registered")
    cfg = proc.create_config()
    if image is not None:
        cfg.set_property("image", image)
        cfg.set_core_object_array("drawables", list(drawables))
    for k, v in props.items():
        cfg.set_property(k.replace("_", "-"), v)
    r = proc.run(cfg)
    status = r.index(0)
    values = [r.index(i) for i in range(1, r.length())]
    error = PDB.get_last_error() if status != Gimp.PDBStatusType.SUCCESS else ""
    return status.value_nick, values, error


def new_image(width, height, name="paint"):
    image = Gimp.Image.new(width, height, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(image, name, width, height, Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    layer.fill(Gimp.FillType.WHITE)
    return image, layer


def load_into(image, path):
    """A PNG's pixels merged into the image's one layer; returns that layer."""
    loaded = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(path))
    image.insert_layer(loaded, None, 0)
    return image.merge_down(loaded, Gimp.MergeType.CLIP_TO_BOTTOM_LAYER)


def save(image, name):
    """What the image shows, as out/NAME.png; returns the path."""
    path = os.path.join(OUT, name + ".png")
    with open(path, "wb") as f:
        f.write(png.encode(painting.composite(image), image.get_width(), image.get_height()))
    return path


def from_hex(op):
    for key in ("raster_patch",):
        if key in op:
            return {key: dict(op[key], rgba=bytes.fromhex(op[key]["rgba"]))}
    if "result" in op.get("magic_brush", {}):
        m = op["magic_brush"]
        return {"magic_brush": dict(m, result=dict(m["result"], rgba=bytes.fromhex(m["result"]["rgba"])))}
    return op


def settings(address):
    status, values, error = call("plug-in-apprentice-settings", address=address)
    return {"status": status, "info": values[0] if values else "", "error": error}


def apply():
    """Each case: a base picture, then ops painted by the plug-in's own modules."""
    out = {}
    for case in PARAMS["cases"]:
        image, layer = new_image(case["width"], case["height"])
        if case.get("base"):
            layer = load_into(image, PARAMS["base"])
        notes = []
        for op in case["ops"]:
            try:
                painting.carry_out(image, layer, plan.plan(from_hex(op)))
            except plan.NotPainted as e:
                notes.append(str(e))
        out[case["name"]] = {"png": save(image, case["name"]), "notes": notes}
        image.delete()
    report["apply"] = out


def picture(width, height):
    """The test's picture (params "picture") on the image's one layer."""
    image, layer = new_image(width, height)
    if PARAMS.get("picture"):
        layer = load_into(image, PARAMS["picture"])
    return image, layer


def continue_():
    image, layer = picture(PARAMS["width"], PARAMS["height"])
    before = save(image, "continue-before")
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 5, 5, 20, 10)  # set aside while painting, then back
    status, values, error = call("plug-in-apprentice-continue", image, [layer], count=PARAMS["count"], seed=3)
    selection = list(Gimp.Selection.bounds(image))[1:]
    Gimp.Selection.none(image)
    parasite = image.get_parasite("apprentice-document-id")
    report["continue"] = {
        "status": status,
        "painted": values[0],
        "notes": values[1],
        "error": error,
        "before": before,
        "after": save(image, "continue-after"),
        "document_id": bytes(parasite.get_data()).decode() if parasite else None,
        "layers": [layer.get_name() for layer in image.get_layers()],
        "selection": selection,
        "channels": len(image.get_channels()),
    }
    # A second run on the same image: the same session, continued.
    status, values, error = call("plug-in-apprentice-continue", image, [layer], count=2, seed=4)
    report["continue"]["again"] = {"status": status, "painted": values[0], "error": error}
    # Imagining first, with a prompt: the picture on a hidden layer, the prompt's fate said.
    status, values, error = call(
        "plug-in-apprentice-continue", image, [layer], count=4, seed=5, imagine=True, prompt="a red barn"
    )
    imagined = image.get_layer_by_name("Imagined")
    report["continue"]["imagine"] = {
        "status": status,
        "painted": values[0],
        "notes": values[1],
        "error": error,
        "layers": [x.get_name() for x in image.get_layers()],
        "imagined_visible": imagined.get_visible() if imagined else None,
        "imagined_size": [imagined.get_width(), imagined.get_height()] if imagined else None,
    }
    image.delete()


def copy():
    image, layer = new_image(PARAMS["width"], PARAMS["height"])
    reference = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(PARAMS["reference"]))
    reference.set_name("reference")
    image.insert_layer(reference, None, 0)
    reference.set_visible(False)
    before = save(image, "copy-before")
    status, values, error = call(
        "plug-in-apprentice-copy-layer", image, [layer], reference=reference, count=PARAMS["copy_count"], seed=1
    )
    refused = call("plug-in-apprentice-copy-layer", image, [reference], reference=reference, count=1)
    report["copy"] = {
        "status": status,
        "painted": values[0],
        "error": error,
        "before": before,
        "after": save(image, "copy-after"),
        "refused_on_the_reference": refused[2],
    }
    image.delete()


def magic():
    out = {}
    # A selection: repainted inside it only.
    image, layer = picture(PARAMS["width"], PARAMS["height"])
    out["before"] = save(image, "magic-before")
    image.select_ellipse(Gimp.ChannelOps.REPLACE, *PARAMS["ellipse"])
    status, values, error = call("plug-in-apprentice-magic-brush", image, [layer], strength=0.9, seed=2)
    out["selection"] = {"status": status, "model": values[0], "note": values[1], "error": error}
    out["after"] = save(image, "magic-after")
    out["layers"] = [x.get_name() for x in image.get_layers()]
    # The same on a new layer; then a style the daemon does not have (a note, still painted).
    status, values, error = call(
        "plug-in-apprentice-magic-brush", image, [layer], strength=0.9, seed=2, new_layer=True, style="nowhere"
    )
    out["new_layer"] = {"status": status, "note": values[1], "error": error}
    out["layers_after_new_layer"] = [x.get_name() for x in image.get_layers()]
    image.delete()
    # No selection, a path: the path stroked at the radius.
    image, layer = picture(PARAMS["width"], PARAMS["height"])
    path = Gimp.Path.new(image, "dab")
    image.insert_path(path, None, 0)
    path.stroke_new_from_points(Gimp.PathStrokeType.BEZIER, PARAMS["path_points"], False)
    image.set_selected_paths([path])
    status, values, error = call("plug-in-apprentice-magic-brush", image, [layer], strength=1.0, radius=10.0)
    out["path"] = {"status": status, "error": error, "before": out["before"], "after": save(image, "magic-path")}
    image.delete()
    # Neither a selection nor a path: refused in words.
    image, layer = picture(PARAMS["width"], PARAMS["height"])
    out["nothing"] = dict(zip(("status", "values", "error"), call("plug-in-apprentice-magic-brush", image, [layer])))
    image.delete()
    report["magic"] = out


def refusals():
    """The daemon down, or refusing the request: the image untouched, the reason in words."""
    out = {}
    image, layer = picture(PARAMS["width"], PARAMS["height"])
    before = painting.composite(image)
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 10, 10, 30, 30)
    out["bad_painter"] = call("plug-in-apprentice-continue", image, [layer], count=3, painter="nobody")
    out["settings_dead"] = settings(PARAMS["dead_address"])
    out["continue_down"] = call("plug-in-apprentice-continue", image, [layer], count=3)
    out["magic_down"] = call("plug-in-apprentice-magic-brush", image, [layer])
    out["untouched"] = painting.composite(image) == before
    out["bad_address"] = call("plug-in-apprentice-settings", address="no port here")
    image.delete()
    report["refusals"] = out


def managed():
    """No daemon at the address in the settings: the plug-in starts one, and Continue paints."""
    image, layer = picture(PARAMS["width"], PARAMS["height"])
    status, values, error = call("plug-in-apprentice-continue", image, [layer], count=3, seed=1)
    report["managed"] = {"status": status, "painted": values[0], "error": error}
    image.delete()


def press_undo(image, after):
    """Ctrl+Z in GIMP's window, as a painter undoes (the PDB has no undo); waits for the pixels to change."""
    # The image window: its title names the image's size ("... 160x120 – GIMP").
    search = ["xdotool", "search", "--onlyvisible", "--name", r"[0-9]x[0-9].*GIMP"]
    found = subprocess.run(search, check=False, capture_output=True, text=True)
    windows = found.stdout.split()
    if not windows:
        raise RuntimeError("no GIMP image window to press Ctrl+Z in: " + found.stderr)
    subprocess.run(["xdotool", "windowfocus", "--sync", windows[0]], check=True)
    subprocess.run(["xdotool", "mousemove", "--window", windows[0], "300", "300"], check=True)
    subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+z"], check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and painting.composite(image) == after:
        time.sleep(0.1)
    time.sleep(0.5)  # and anything more one Ctrl+Z would take back
    return painting.composite(image)


def accept_dialog(title):
    """In the background: once the dialog titled `title` shows, Return in it (its OK)."""
    script = (
        f"for i in $(seq 100); do W=$(xdotool search --onlyvisible --name '^{title}$' | head -1); "
        '[ -n "$W" ] && break; sleep 0.2; done; '
        'xdotool windowfocus --sync "$W"; sleep 0.3; xdotool key Return'
    )
    subprocess.Popen(["sh", "-c", script])


def dialogs():
    """The menu's way in GIMP's window: each procedure's own dialog, accepted as shown."""
    out = {}
    for name, title in (
        ("plug-in-apprentice-continue", "Continue painting"),
        ("plug-in-apprentice-magic-brush", "Magic brush"),
    ):
        image, layer = picture(PARAMS["width"], PARAMS["height"])
        Gimp.Display.new(image)
        Gimp.displays_flush()
        image.select_ellipse(Gimp.ChannelOps.REPLACE, *PARAMS["ellipse"])
        before = painting.composite(image)
        accept_dialog(title)
        status, values, error = call(name, image, [layer], run_mode=Gimp.RunMode.INTERACTIVE)
        out[name] = {
            "status": status,
            "error": error,
            "first": values[0],
            "changed": painting.composite(image) != before,
        }
        image.clean_all()
    report["dialogs"] = out


def undo():
    """In GIMP's window: each run, then one Ctrl+Z, brings the image back to what it was."""
    out = {}
    for run in ("continue", "magic"):
        image, layer = picture(PARAMS["width"], PARAMS["height"])
        Gimp.Display.new(image)
        Gimp.displays_flush()
        time.sleep(1.0)  # the window shows the image
        if run == "magic":
            image.select_ellipse(Gimp.ChannelOps.REPLACE, *PARAMS["ellipse"])
        before = painting.composite(image)
        if run == "continue":
            status, _, error = call("plug-in-apprentice-continue", image, [layer], count=8, seed=5)
        else:
            status, _, error = call("plug-in-apprentice-magic-brush", image, [layer], strength=0.9)
        after = painting.composite(image)
        undone = press_undo(image, after)
        out[run] = {"status": status, "error": error, "changed": after != before, "undone": undone == before}
        image.clean_all()  # no "discard changes?" question at quit
    report["undo"] = out


try:
    os.makedirs(OUT, exist_ok=True)
    report["settings"] = settings(PARAMS["address"])
    for scenario in PARAMS["scenarios"]:
        scenarios = {
            "apply": apply,
            "continue": continue_,
            "copy": copy,
            "magic": magic,
            "refusals": refusals,
            "undo": undo,
            "managed": managed,
            "dialogs": dialogs,
        }
        scenarios[scenario]()
    report["ok"] = True
except Exception:  # noqa: BLE001 (the report carries it to the test)
    report["error"] = traceback.format_exc()
with open(os.path.join(OUT, "report.json"), "w") as f:
    json.dump(report, f, indent=1, default=str)
