"""PyQt5 (Krita 5) or PyQt6 (Krita 6): whichever Qt the running Krita was built with."""

import sys

if "PyQt6.QtCore" in sys.modules:  # Krita 6 loaded PyQt6 before any plug-in
    from PyQt6 import QtCore, QtGui, QtWidgets

    QT6 = True
else:
    from PyQt5 import QtCore, QtGui, QtWidgets  # noqa: F401 (re-exported)

    QT6 = False

Qt = QtCore.Qt
QEvent = QtCore.QEvent
QPointF = QtCore.QPointF
QTimer = QtCore.QTimer


def enum(cls, scope, name):
    """cls.scope.name on PyQt6 (scoped enums), cls.name on PyQt5."""
    return getattr(getattr(cls, scope), name) if QT6 else getattr(cls, name)


EV = {
    name: enum(QEvent, "Type", name)
    for name in (
        "TabletPress",
        "TabletMove",
        "TabletRelease",
        "MouseButtonPress",
        "MouseMove",
        "MouseButtonRelease",
    )
}
LEFT = enum(Qt, "MouseButton", "LeftButton")
NO_BUTTON = enum(Qt, "MouseButton", "NoButton")
NO_MODIFIER = enum(Qt, "KeyboardModifier", "NoModifier")


def event_pos(event):
    """An input event's position in widget coordinates (QPointF)."""
    if hasattr(event, "position"):
        return event.position()
    return event.posF() if hasattr(event, "posF") else event.localPos()


def event_buttons(event):
    return event.buttons()
