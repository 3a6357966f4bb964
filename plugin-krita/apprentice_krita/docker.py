"""The Apprentice docker: connection, recording, and Continue painting with its options."""

from krita import DockWidget, Krita

from . import extension, settings
from .qt import QtWidgets

NO_REFERENCE = "(none: continue freely)"


class LayerBox(QtWidgets.QComboBox):
    """The document's top-level layers, listed afresh whenever it opens: layers come and go."""

    def showPopup(self):
        self.refresh()
        super().showPopup()

    def refresh(self):
        chosen = self.currentText()
        self.clear()
        self.addItem(NO_REFERENCE)
        doc = Krita.instance().activeDocument()
        if doc:
            for node in doc.topLevelNodes():
                self.addItem(node.name())
        self.setCurrentIndex(max(0, self.findText(chosen)))


class ApprenticeDocker(DockWidget):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("Apprentice")
        root = QtWidgets.QWidget(self)
        layout = QtWidgets.QFormLayout(root)
        self.status = QtWidgets.QLabel("connecting…")
        self.status.setWordWrap(True)
        layout.addRow(self.status)
        self.record = QtWidgets.QCheckBox("Record my strokes")
        self.record.toggled.connect(self._record)
        layout.addRow(self.record)
        self.count = QtWidgets.QSpinBox()
        self.count.setRange(1, 1000)
        self.count.setValue(20)
        layout.addRow("Operations", self.count)
        # Its lowest value stands for "the daemon's default" (the one the shortcut uses too).
        self.temperature = QtWidgets.QDoubleSpinBox()
        self.temperature.setRange(-0.1, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setSpecialValueText("default")
        self.temperature.setValue(-0.1)
        layout.addRow("Temperature", self.temperature)
        self.reference = LayerBox()
        layout.addRow("Reference layer", self.reference)
        buttons = QtWidgets.QHBoxLayout()
        self.go = QtWidgets.QPushButton("Continue painting")
        self.go.clicked.connect(self._continue)
        self.stop = QtWidgets.QPushButton("Cancel")
        self.stop.clicked.connect(lambda: extension.INSTANCE and extension.INSTANCE.cancel())
        buttons.addWidget(self.go)
        buttons.addWidget(self.stop)
        layout.addRow(buttons)
        self.progress = QtWidgets.QLabel("")
        layout.addRow(self.progress)
        edit = QtWidgets.QPushButton("Settings…")
        edit.clicked.connect(lambda: settings.SettingsDialog(self).exec())
        layout.addRow(edit)
        self.setWidget(root)
        if extension.INSTANCE:
            extension.INSTANCE.listeners.append(self.update_view)
        self.update_view()

    def canvasChanged(self, canvas):
        self.reference.refresh()

    def _record(self, on):
        app = extension.INSTANCE
        if app and app.recording() != on:
            app.set_recording(on)

    def _continue(self):
        app = extension.INSTANCE
        doc = Krita.instance().activeDocument()
        reference = None
        if doc and self.reference.currentText() not in ("", NO_REFERENCE):
            reference = doc.nodeByName(self.reference.currentText())
        try:
            temperature = self.temperature.value()
            temperature = None if temperature < 0 else temperature
            app.continue_painting(self.count.value(), temperature, reference)
        except Exception as e:  # noqa: BLE001 (shown in the docker)
            self.progress.setText(str(e))

    def update_view(self):
        app = extension.INSTANCE
        if app is None:
            return
        address = app.info_address or settings.address()
        if app.info:
            models = ", ".join(app.info.get("models", [])) or "none"
            device = app.info.get("device", "?")
            self.status.setText(f"Connected to {address}\nmodel: {models}\ndevice: {device}")
        else:
            self.status.setText(
                f"Not connected to the apprentice daemon at {address} ({app.info_error}).\n{settings.START_HINT}"
            )
        self.record.setChecked(app.recording())
        run = app.run
        busy = run is not None and not run.finished
        self.go.setEnabled(not busy)
        self.stop.setEnabled(busy)
        if run is not None:
            total = run.request.get("count", 0)
            if busy:
                self.progress.setText(f"painting {run.painted} / {total}")
            elif run.error is not None:
                self.progress.setText(f"stopped after {run.painted} ops: {run.error}")
            else:
                self.progress.setText(f"painted {run.painted} ops")
        pending = sum(box.pending() for box in app.outboxes.values())
        errors = [box.error for box in app.outboxes.values() if box.error]
        if errors:
            self.progress.setText(errors[0])
        elif pending:
            self.progress.setText(f"{pending} ops waiting to be sent")
