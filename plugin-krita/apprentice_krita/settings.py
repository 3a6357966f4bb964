"""The connection settings (address, token), kept in Krita's configuration (kritarc, [apprentice])."""

from krita import Krita

from .client import DEFAULT_ADDRESS, Client
from .qt import QtWidgets, enum

GROUP = "apprentice"
START_HINT = "Start it with:  apprentice serve   (see the README of the apprentice project)"


# Read from Krita once, on its main thread, then kept here: Krita's settings object belongs to
# the thread that opens it, and the sending threads would read a stale copy.
_current = {}


def load():
    app = Krita.instance()
    _current["address"] = app.readSetting(GROUP, "address", DEFAULT_ADDRESS) or DEFAULT_ADDRESS
    _current["token"] = app.readSetting(GROUP, "token", "") or None
    # The apprentice program to start when no daemon answers; empty: found by itself.
    _current["binary"] = app.readSetting(GROUP, "binary", "") or None


def store(address, token):
    app = Krita.instance()
    app.writeSetting(GROUP, "address", address or DEFAULT_ADDRESS)
    app.writeSetting(GROUP, "token", token or "")
    load()


def address():
    return _current.get("address", DEFAULT_ADDRESS)


def token():
    return _current.get("token")


def binary():
    return _current.get("binary")


def client(timeout=30.0):
    """A client for the daemon as the settings say now (any thread)."""
    return Client(address(), token=token(), timeout=timeout)


class SettingsDialog(QtWidgets.QDialog):
    """Address and token of the daemon (the token is in the daemon's config folder, file `token`)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Apprentice settings")
        self.address = QtWidgets.QLineEdit(address())
        self.token = QtWidgets.QLineEdit(token() or "")
        self.token.setEchoMode(enum(QtWidgets.QLineEdit, "EchoMode", "Password"))
        form = QtWidgets.QFormLayout(self)
        form.addRow("Daemon address", self.address)
        form.addRow("Token (only needed beyond this computer)", self.token)
        box = QtWidgets.QDialogButtonBox
        buttons = box()
        buttons.addButton("Save", enum(box, "ButtonRole", "AcceptRole"))
        buttons.addButton("Cancel", enum(box, "ButtonRole", "RejectRole"))
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def save(self):
        store(self.address.text().strip(), self.token.text().strip())
        self.accept()
        from . import extension  # imported here: extension imports this module

        if extension.INSTANCE:
            extension.INSTANCE.refresh_info()  # the docker shows the new address's state at once
