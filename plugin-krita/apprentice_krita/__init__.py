"""Apprentice for Krita: records your strokes, and "Continue painting" paints the next ones with
Krita's own brushes, streamed from the local apprentice daemon. See README.md beside this folder."""

try:
    from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita
except ImportError:  # imported outside Krita (the plug-in's tests): only the Qt-free modules are used
    Krita = None

if Krita is not None:
    from .docker import ApprenticeDocker
    from .extension import Apprentice

    _app = Krita.instance()
    _app.addExtension(Apprentice(_app))
    # PyQt6 scopes the enum (Krita 6), PyQt5 does not.
    _right = getattr(DockWidgetFactoryBase, "DockRight", None) or DockWidgetFactoryBase.DockPosition.DockRight
    _app.addDockWidgetFactory(DockWidgetFactory("apprentice_docker", _right, ApprenticeDocker))
