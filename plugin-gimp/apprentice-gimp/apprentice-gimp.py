#!/usr/bin/env python3
"""The Apprentice plug-in for GIMP 3: Filters ▸ Apprentice ▸ Magic brush…, Continue painting…,
Copy layer as a painting… and Settings…, each a PDB procedure (plug-in-apprentice-*) that
scripts and tests can call too. The work is in the apprentice_gimp package beside this file."""

import sys
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from apprentice_gimp import tools
from gi.repository import Gimp, GLib, GObject

RW = GObject.ParamFlags.READWRITE
MENU = "<Image>/Filters/Apprentice"


def _dialog(procedure, config, title):
    """The procedure's arguments in GIMP's own dialog (it remembers the last values)."""
    from gi.repository import GimpUi

    GimpUi.init("apprentice-gimp")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    dialog.fill(None)
    ok = dialog.run()
    dialog.destroy()
    return ok


def _values(procedure, status, *values, error=None):
    """The procedure's return values: the status, then `values` (strings and ints), or the error."""
    if error is not None:
        return procedure.new_return_values(
            status, GLib.Error.new_literal(GLib.quark_from_string("apprentice"), error, 0)
        )
    result = procedure.new_return_values(status, None)
    for i, v in enumerate(values, start=1):
        kind = GObject.TYPE_INT if isinstance(v, int) else GObject.TYPE_STRING
        result.remove(i)
        result.insert(i, GObject.Value(kind, v))
    return result


class Apprentice(Gimp.PlugIn):
    def do_set_i18n(self, name):
        return False  # no translations shipped yet

    def do_query_procedures(self):
        return [
            "plug-in-apprentice-magic-brush",
            "plug-in-apprentice-continue",
            "plug-in-apprentice-copy-layer",
            "plug-in-apprentice-settings",
        ]

    def do_create_procedure(self, name):
        run = {
            "plug-in-apprentice-magic-brush": self.magic_brush,
            "plug-in-apprentice-continue": self.continue_painting,
            "plug-in-apprentice-copy-layer": self.continue_painting,
            "plug-in-apprentice-settings": self.settings,
        }[name]
        p = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        p.set_attribution("Apprentice", "Apprentice", "2026")
        if name == "plug-in-apprentice-settings":
            p.set_menu_label("Settings…")
            p.add_menu_path(MENU)
            p.set_documentation(
                "Apprentice settings", "The daemon's address and token, and a check that it answers", name
            )
            p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS | Gimp.ProcedureSensitivityMask.NO_IMAGE)
            p.add_string_argument("address", "Daemon _address", "host:port of `apprentice serve`", "", RW)
            p.add_string_argument("token", "_Token", "Only for a daemon beyond this computer", "", RW)
            p.add_string_return_value("info", "Info", "What the daemon says about itself", "", RW)
            return p
        p.set_image_types("RGB*")
        p.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        if name == "plug-in-apprentice-magic-brush":
            p.set_menu_label("Magic brush…")
            p.add_menu_path(MENU)
            p.set_documentation(
                "Magic brush",
                "Repaints the selection (or the active path, stroked at the radius) with the daemon's "
                "diffusion brush, guided by a prompt or a style; one undo step",
                name,
            )
            p.add_string_argument("prompt", "_Prompt", "What to paint (models that read text)", "", RW)
            p.add_string_argument("style", "St_yle", "A style picture in the daemon's styles folder", "", RW)
            p.add_double_argument("strength", "Stren_gth", "How far from the pixels there", 0.0, 1.0, 0.8, RW)
            p.add_int_argument("seed", "S_eed", "Another seed, another result", 0, 2**31 - 1, 0, RW)
            p.add_int_argument("steps", "S_teps", "Sampler steps (0: the daemon's default)", 0, 50, 0, RW)
            p.add_double_argument(
                "radius", "Path r_adius", "Without a selection: the path's reach", 1.0, 1024.0, 24.0, RW
            )
            p.add_boolean_argument(
                "new-layer", "On a _new layer", "Paint on a new layer, not the active one", False, RW
            )
            p.add_double_argument(
                "texture", "Te_xture", "Texture cloned from the picture nearby (0: a smooth fill)", 0.0, 1.0, 1.0, RW
            )
            p.add_string_return_value("model", "Model", "The model that painted", "", RW)
            p.add_string_return_value("note", "Note", "What the brush could not follow", "", RW)
            return p
        label, blurb = {
            "plug-in-apprentice-continue": (
                "Continue painting…",
                "The daemon continues the picture with strokes and fills, painted with GIMP's tools; one undo step",
            ),
            "plug-in-apprentice-copy-layer": (
                "Copy layer as a painting…",
                "The daemon repaints another layer onto the active one, stroke by stroke; one undo step",
            ),
        }[name]
        p.set_menu_label(label)
        p.add_menu_path(MENU)
        p.set_documentation(label.rstrip("…"), blurb, name)
        if name == "plug-in-apprentice-copy-layer":
            p.add_layer_argument("reference", "Re_ference layer", "The picture to copy", False, RW)
        p.add_int_argument("count", "Operatio_ns", "How many strokes and fills", 1, 10000, 20, RW)
        p.add_double_argument("temperature", "_Temperature", "-1: the daemon's default; 0: surest", -1.0, 4.0, -1.0, RW)
        p.add_int_argument("seed", "S_eed", "Another seed, another continuation", 0, 2**31 - 1, 0, RW)
        p.add_string_argument("painter", "_Painter", "transformer, search or teacher (empty: the default)", "", RW)
        if name == "plug-in-apprentice-continue":
            p.add_boolean_argument(
                "imagine", "_Imagine first", "The magic brush imagines the finished picture (hidden layer “Imagined”)",
                False, RW,
            )  # fmt: skip
            p.add_double_argument(
                "imagine-strength",
                "Imagination stren_gth",
                "How far from the canvas (0: the daemon's default)",
                0.0,
                1.0,
                0.5,
                RW,
            )
            p.add_string_argument("prompt", "Pro_mpt", "What to imagine (models that read text)", "", RW)
            p.add_string_argument("style", "St_yle", "A style picture in the daemon's styles folder", "", RW)
        p.add_int_return_value("painted", "Painted", "Operations painted", 0, 10000, 0, RW)
        p.add_string_return_value("notes", "Notes", "Operations not painted, and why", "", RW)
        return p

    # ---- the runs ----

    def _run(self, procedure, run_mode, config, title, work):
        if run_mode == Gimp.RunMode.INTERACTIVE and not _dialog(procedure, config, title):
            return _values(procedure, Gimp.PDBStatusType.CANCEL)
        try:
            values = work()
        except Exception as e:  # noqa: BLE001 (every failure reaches the painter, in words)
            message = str(e) if isinstance(e, tools.Failed) else f"the plug-in failed: {e!r}"
            if not isinstance(e, tools.Failed):
                traceback.print_exc()  # GIMP's error console, for a bug report
            if run_mode == Gimp.RunMode.INTERACTIVE:
                Gimp.message(f"{title}: {message}")
            return _values(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, error=message)
        return _values(procedure, Gimp.PDBStatusType.SUCCESS, *values)

    def magic_brush(self, procedure, run_mode, image, drawables, config, data):
        def work():
            model, note = tools.magic_brush(
                image, _one(drawables), config.get_property("prompt"), config.get_property("style"),
                config.get_property("strength"), config.get_property("seed"), config.get_property("steps"),
                config.get_property("radius"), config.get_property("new-layer"), config.get_property("texture"),
            )  # fmt: skip
            if note and run_mode == Gimp.RunMode.INTERACTIVE:
                Gimp.message("Magic brush: " + note)
            return model, note

        return self._run(procedure, run_mode, config, "Magic brush", work)

    def continue_painting(self, procedure, run_mode, image, drawables, config, data):
        copy = procedure.get_name() == "plug-in-apprentice-copy-layer"

        def work():
            reference = config.get_property("reference") if copy else None
            if copy and reference is None:
                raise tools.Failed("choose the reference layer to copy")
            temperature = config.get_property("temperature")
            imagine = None
            if not copy and config.get_property("imagine"):
                prompt, style = config.get_property("prompt").strip(), config.get_property("style").strip()
                if prompt and style:
                    raise tools.Failed("a prompt or a style, not both")
                imagine = {"strength": config.get_property("imagine-strength")}
                imagine.update({"prompt": prompt} if prompt else {"style": style} if style else {})
            painted, notes = tools.continue_painting(
                image, _one(drawables), config.get_property("count"), None if temperature < 0 else temperature,
                config.get_property("seed"), config.get_property("painter"), reference, imagine,
            )  # fmt: skip
            text = tools.describe_notes(notes)
            if text and run_mode == Gimp.RunMode.INTERACTIVE:
                Gimp.message("Apprentice: " + text)
            return len(painted), text

        title = "Copy layer as a painting" if copy else "Continue painting"
        return self._run(procedure, run_mode, config, title, work)

    def settings(self, procedure, run_mode, image, drawables, config, data):
        current = tools.current_settings()
        if run_mode == Gimp.RunMode.INTERACTIVE:
            config.set_property("address", current["address"])
            config.set_property("token", current["token"])

        def work():
            address = config.get_property("address") or current["address"]
            token = config.get_property("token") if config.get_property("address") else current["token"]
            tools.store_settings(address, token)
            info = tools.check_connection()
            if run_mode == Gimp.RunMode.INTERACTIVE:
                Gimp.message(info)
            return (info,)

        return self._run(procedure, run_mode, config, "Apprentice settings", work)


def _one(drawables):
    """The drawable to paint on: the one selected (GIMP 3 passes a list)."""
    if len(drawables) != 1:
        raise tools.Failed(f"select one layer to paint on ({len(drawables)} are selected)")
    return drawables[0]


Gimp.main(Apprentice.__gtype__, sys.argv)
