"""The connection settings (address, token), kept in Krita's configuration (kritarc, [apprentice])."""

from krita import Krita

from .client import DEFAULT_ADDRESS, Client
from .qt import QtWidgets, enum

GROUP = "apprentice"
START_HINT = "Start it with:  apprentice serve   (see the README of the apprentice project)"


def address():
    return Krita.instance().readSetting(GROUP, "address", DEFAULT_ADDRESS) or DEFAULT_ADDRESS


def token():
    return Krita.instance().readSetting(GROUP, "token", "") or None


def client(timeout=30.0):
    """A client for the daemon as the settings say now."""
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
        Krita.instance().writeSetting(GROUP, "address", self.address.text().strip() or DEFAULT_ADDRESS)
        Krita.instance().writeSetting(GROUP, "token", self.token.text().strip())
        self.accept()
