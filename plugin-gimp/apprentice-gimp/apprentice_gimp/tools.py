"""The plug-in's runs: Continue painting, Copy layer as a painting, the magic brush, and the
settings. Each opens the image's session, shows the daemon the canvas, and paints what comes
back with GIMP's own procedures as one undo group; the ops painted go into the session.

A failure before anything is painted (the daemon down, a bad setting) leaves the image untouched
and raises Failed with the reason; a failure half-way keeps what was painted (one undo takes it
back) and says how far it got.
"""

import os
import pathlib

from gi.repository import Gimp

from . import painting, plan, settings
from .client import Client, DaemonUnavailable, RpcError, daemon, paint
from .session import PARASITE, Session, Unreachable, document_id, unreachable_message


class Failed(Exception):
    """What the painter is told when a run fails."""


def current_settings():
    parasite = Gimp.get_parasite(settings.PARASITE)
    return settings.load(_bytes(parasite) if parasite else None)


def store_settings(address, token):
    try:
        data = settings.dump(address, token)
    except ValueError as e:
        raise Failed(str(e)) from e
    Gimp.attach_parasite(Gimp.Parasite.new(settings.PARASITE, Gimp.PARASITE_PERSISTENT, list(data)))


def client(timeout=60.0):
    """A client for the daemon in the settings — started first when nothing answers there (on
    this computer): `apprentice serve`, tied to GIMP's process so that it ends with GIMP."""
    s = current_settings()
    c = Client(s["address"], token=s["token"] or None, timeout=timeout)
    here = pathlib.Path(__file__).resolve().parent.parent
    binary = daemon.find_binary(None, str(here / "install.json"))
    log = pathlib.Path(Gimp.directory()) / "apprentice-daemon.log"
    try:
        # This plug-in's parent is GIMP: the daemon outlives each run, not GIMP.
        if daemon.ensure(Client(s["address"], token=s["token"] or None, timeout=10.0), binary, log, os.getppid()):
            Gimp.message(f"Apprentice started its daemon at {s['address']} (log: {log})")
    except daemon.NotStarted as e:
        raise Failed(f"{unreachable_message(s['address'], 'nothing answers')}\n{e}") from e
    return c


def check_connection():
    """What the daemon says about itself, or Failed saying why it does not answer."""
    c = client(timeout=10.0)
    try:
        return settings.describe(c.get_info())
    except DaemonUnavailable as e:
        raise Failed(unreachable_message(c.address, e.message)) from e
    except RpcError as e:
        raise Failed(f"the daemon at {c.address} answered {e.code_name}: {e.message}") from e


def _bytes(parasite):
    return bytes(parasite.get_data())  # a list of ints or bytes, by GIMP version


def open_session(image, c, without=None):
    """The image's session, its id made and kept in the image on first use, shown the canvas."""
    parasite = image.get_parasite(PARASITE)
    doc_id, new = document_id(_bytes(parasite) if parasite else None)
    if new:
        # Persistent, not undoable: the id is the image's, not a step of the painting.
        image.attach_parasite(Gimp.Parasite.new(PARASITE, Gimp.PARASITE_PERSISTENT, list(doc_id.encode("ascii"))))
    session = Session(c, doc_id, image.get_width(), image.get_height(), Gimp.version())
    try:
        session.open()
        session.snapshot(painting.composite(image, without))
    except RpcError as e:
        raise Failed(f"the daemon refused the image: {e.code_name}: {e.message}") from e
    except Unreachable as e:
        raise Failed(str(e)) from e
    return session


def check_target(image, drawable):
    if image.get_base_type() != Gimp.ImageBaseType.RGB:
        raise Failed("Apprentice paints RGB images: convert this one with Image ▸ Mode ▸ RGB")
    if drawable is None:
        raise Failed("select the layer to paint on")


class Group:
    """One undo group and the plug-in's own context (the painter's tool options stay as they were)."""

    def __init__(self, image):
        self.image = image

    def __enter__(self):
        self.image.undo_group_start()
        Gimp.context_push()
        return self

    def __exit__(self, *exc):
        Gimp.context_pop()
        self.image.undo_group_end()
        Gimp.displays_flush()
        return False


def continue_painting(image, drawable, count, temperature=None, seed=0, painter="", reference=None, imagine=None):
    """Continues the image with `count` ops from the daemon (copy mode: towards `reference`, a
    layer; `imagine`, a proto Imagine: the magic brush imagines the finished picture first, shown
    on a hidden layer "Imagined"); returns (ops painted, notes: ops not painted, and what the
    daemon could not follow)."""
    check_target(image, drawable)
    if reference is not None and reference == drawable:
        raise Failed("the reference layer is the layer being painted: choose another as the reference")
    if reference is not None and imagine is not None:
        raise Failed("imagining is for Continue painting without a reference layer")
    c = client(timeout=None)
    session = open_session(image, c, without=reference)
    request = {"session_id": session.session_id, "count": int(count), "seed": int(seed), "painter": painter or ""}
    if temperature is not None:
        request["temperature"] = float(temperature)
    if reference is not None:
        request["reference_png"] = painting.layer_png(reference, image.get_width(), image.get_height())
    if imagine is not None:
        request["imagine"] = dict(imagine, preview=True)
    painted, notes = [], []
    Gimp.progress_init("Apprentice: continue painting" if reference is None else "Apprentice: copying the layer")
    failure = None
    with Group(image), painting.SelectionAside(image):
        try:
            with c.continue_(request) as stream:
                for event in stream:
                    if event.get("note"):
                        notes.append(event["note"])
                    if event.get("imagined_png"):
                        painting.show_imagined(image, event["imagined_png"])
                    if "op" not in event:
                        continue
                    op = event["op"]
                    try:
                        painting.carry_out(image, drawable, plan.plan(op))
                    except plan.NotPainted as e:
                        notes.append(str(e))
                        continue
                    painted.append(op)
                    Gimp.progress_update(min(1.0, len(painted) / max(1, count)))
        except DaemonUnavailable as e:
            failure = unreachable_message(c.address, e.message)
        except RpcError as e:
            failure = f"{e.code_name}: {e.message}"
    Gimp.progress_end()
    if painted:
        _record(session, painted, notes)
    if failure:
        if painted:
            failure += f" (after {len(painted)} ops; Edit ▸ Undo takes them back)"
        raise Failed(failure)
    return painted, notes


def _record(session, ops, notes):
    try:
        session.record(ops)
    except RpcError as e:  # the picture is painted; only the daemon's history misses the ops
        notes.append(f"the daemon did not store the ops painted: {e.code_name}: {e.message}")
    notes.extend(f"the daemon refused to store an op: {message}" for _, message in session.rejected)


def magic_regions(image, drawable, radius):
    """The dabs to paint: [(path, radius, clip)] — the selection covered (its pixels cut to its
    shape later), else each stroke of the active path at `radius`."""
    selected = painting.selection_mask(image)
    if selected is not None:
        _mask, x, y, w, h = selected
        path, r = paint.cover_path(x, y, w, h)
        return [(path, r, selected)]
    dabs = [(plan.path_points(coords), float(radius), None) for coords in painting.path_strokes(image)]
    dabs = [d for d in dabs if d[0]]
    if not dabs:
        raise Failed("select a region, or draw a path, for the magic brush to paint")
    return dabs


def magic_brush(
    image, drawable, prompt="", style="", strength=0.8, seed=0, steps=0, radius=24.0, new_layer=False, texture=1.0
):
    """Repaints the selection (or the active path at `radius`) with the daemon's magic brush,
    `texture` of the picture's own texture cloned into its fill; returns (model, note)."""
    check_target(image, drawable)
    dabs = magic_regions(image, drawable, radius)
    try:
        guidance = paint.magic_dab([], 1.0, prompt, style, strength, seed, texture)
    except ValueError as e:
        raise Failed(str(e)) from e
    c = client(timeout=None)
    session = open_session(image, c)
    Gimp.progress_init("Apprentice: magic brush")
    painted, model, notes = [], "", []
    try:
        for i, (path, r, clip) in enumerate(dabs):
            request = {"session_id": session.session_id, "dab": dict(guidance, path=path, radius=r)}
            if steps:
                request["steps"] = int(steps)
            done = None
            with c.magic_brush(request) as stream:
                for event in stream:
                    if "progress" in event:
                        p = event["progress"]
                        fraction = (i + int(p.get("step", 0)) / max(1, int(p.get("steps", 1)))) / len(dabs)
                        Gimp.progress_update(min(1.0, fraction))
                    elif "done" in event:
                        done = event["done"]
            if done is None:
                raise Failed("the daemon ended the magic brush without a result")
            model = done.get("model", model)
            if done.get("note"):
                notes.append(done["note"])
            dab = done.get("op", {}).get("magic_brush", {})
            result = paint.patch_of({"magic_brush": dab})
            if result is not None and clip is not None:
                result = paint.clip_patch(result, *clip)
            if result is not None:
                painted.append({"magic_brush": dict(dab, result=result)})
    except DaemonUnavailable as e:
        raise Failed(unreachable_message(c.address, e.message)) from e
    except RpcError as e:
        raise Failed(f"{e.code_name}: {e.message}") from e
    finally:
        Gimp.progress_end()
    if not painted:
        raise Failed("the magic brush painted nothing here (the dab missed the canvas)")
    # Every pixel is in: now the image changes, in one undo group.
    with Group(image):
        target = drawable
        if new_layer:
            target = Gimp.Layer.new(
                image, painting.MAGIC_LAYER, image.get_width(), image.get_height(),
                Gimp.ImageType.RGBA_IMAGE, 100.0, Gimp.LayerMode.NORMAL,
            )  # fmt: skip
            parent = drawable.get_parent() if isinstance(drawable, Gimp.Layer) else None
            position = image.get_item_position(drawable) if isinstance(drawable, Gimp.Layer) else 0
            image.insert_layer(target, parent, position)
        for op in painted:
            painting.carry_out(image, target, plan.plan(op))
    _record(session, painted, notes)
    return model, "; ".join(notes)


def describe_notes(notes):
    """The notes of a run, one line each, repeated ones counted."""
    counts = {}
    for n in notes:
        counts[n] = counts.get(n, 0) + 1
    return "\n".join(n if k == 1 else f"{n} (×{k})" for n, k in counts.items())
