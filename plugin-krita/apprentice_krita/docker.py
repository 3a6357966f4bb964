"""The Apprentice docker: connection, recording, Continue painting with its options, the magic
brush (prompt, style, strength) with its progress, and learning the painter's style."""

from krita import DockWidget, Krita

from . import extension, settings
from .client import daemon
from .qt import QtWidgets

NO_REFERENCE = "(none: continue freely)"
NO_STYLE = "(none)"
# The docker's painter choices: (label, ContinueRequest.painter).
PAINTERS = [("search: refines the picture", ""), ("the model alone: its own manner", "transformer")]


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
        self.imagine = QtWidgets.QCheckBox("Imagine first (the magic brush's prompt, style, strength)")
        self.imagine.setToolTip(
            "Without a reference: the magic brush imagines the finished picture, shown on the hidden "
            "layer “Imagined”, and Continue paints towards it"
        )
        layout.addRow(self.imagine)
        # The stroke models the daemon has (the one in use first); Continue paints with the one chosen.
        self.model_box = QtWidgets.QComboBox()
        self.model_box.activated.connect(self._choose_model)
        layout.addRow("Paint with", self.model_box)
        # Search refines the picture in its own colours; the model alone paints in its own manner
        # and palette (a personal model: yours).
        self.painter_box = QtWidgets.QComboBox()
        for label, name in PAINTERS:
            self.painter_box.addItem(label, name)
        layout.addRow("Painter", self.painter_box)
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
        layout.addRow(self._magic_section())
        layout.addRow(self._learn_section())
        edit = QtWidgets.QPushButton("Settings…")
        edit.clicked.connect(lambda: settings.SettingsDialog(self).exec())
        self.log_button = QtWidgets.QPushButton("Daemon log…")
        self.log_button.setToolTip("The log of the daemon Krita started (when it started one)")
        self.log_button.clicked.connect(self._show_log)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(edit)
        row.addWidget(self.log_button)
        layout.addRow(row)
        self.setWidget(root)
        if extension.INSTANCE:
            extension.INSTANCE.listeners.append(self.update_view)
        self.update_view()

    def _magic_section(self):
        box = QtWidgets.QGroupBox("Magic brush")
        box.setToolTip("Repaints the selection; without one, a brush-sized dab at the centre of the view")
        form = QtWidgets.QFormLayout(box)
        self.prompt = QtWidgets.QLineEdit()
        self.prompt.setPlaceholderText("optional; or a style")
        form.addRow("Prompt", self.prompt)
        # Editable: a style is a picture's name in the daemon's styles folder.
        self.style_box = QtWidgets.QComboBox()
        self.style_box.setEditable(True)
        self.style_box.addItem(NO_STYLE)
        form.addRow("Style", self.style_box)
        self.strength = QtWidgets.QDoubleSpinBox()
        self.strength.setRange(0.0, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(1.0)
        form.addRow("Strength", self.strength)
        self.texture = QtWidgets.QDoubleSpinBox()
        self.texture.setRange(0.0, 1.0)
        self.texture.setSingleStep(0.1)
        self.texture.setValue(1.0)
        self.texture.setToolTip("Texture cloned from the picture nearby; 0: a smooth fill")
        form.addRow("Texture", self.texture)
        buttons = QtWidgets.QHBoxLayout()
        self.brush = QtWidgets.QPushButton("Magic brush")
        self.brush.clicked.connect(self._magic)
        self.brush_stop = QtWidgets.QPushButton("Cancel")
        self.brush_stop.clicked.connect(lambda: extension.INSTANCE and extension.INSTANCE.cancel_magic())
        buttons.addWidget(self.brush)
        buttons.addWidget(self.brush_stop)
        form.addRow(buttons)
        self.brush_progress = QtWidgets.QLabel("")
        self.brush_progress.setWordWrap(True)
        form.addRow(self.brush_progress)
        return box

    def _learn_section(self):
        box = QtWidgets.QGroupBox("Learn my style")
        box.setToolTip(
            "The daemon learns how you paint from the strokes it recorded (Record my strokes), "
            "in the background; then Continue paints with what it learned"
        )
        form = QtWidgets.QFormLayout(box)
        self.recorded = QtWidgets.QLabel("")
        form.addRow(self.recorded)
        self.learn_steps = QtWidgets.QSpinBox()
        self.learn_steps.setRange(10, 20000)
        self.learn_steps.setValue(300)
        self.learn_steps.setToolTip("More steps learn more, and take longer (about a second each)")
        form.addRow("Steps", self.learn_steps)
        buttons = QtWidgets.QHBoxLayout()
        self.learn = QtWidgets.QPushButton("Learn my style")
        self.learn.clicked.connect(self._learn)
        self.learn_stop = QtWidgets.QPushButton("Cancel")
        self.learn_stop.clicked.connect(lambda: extension.INSTANCE and extension.INSTANCE.cancel_learning())
        buttons.addWidget(self.learn)
        buttons.addWidget(self.learn_stop)
        form.addRow(buttons)
        self.learn_progress = QtWidgets.QLabel("")
        self.learn_progress.setWordWrap(True)
        form.addRow(self.learn_progress)
        return box

    def _learn(self):
        app = extension.INSTANCE
        try:
            app.learn_style(self.learn_steps.value())
        except Exception as e:  # noqa: BLE001 (shown in the docker)
            self.learn_progress.setText(str(e))
            return
        self.update_view()

    def _choose_model(self, index):
        app = extension.INSTANCE
        if app is not None:
            # The first is the one in use: no need to name it.
            app.model = "" if index <= 0 else self.model_box.itemText(index)

    def _show_models(self, models, chosen):
        models = list(models)
        if [self.model_box.itemText(i) for i in range(self.model_box.count())] != models:
            self.model_box.clear()
            self.model_box.addItems(models)
        index = self.model_box.findText(chosen) if chosen else 0
        self.model_box.setCurrentIndex(max(0, index))

    def _magic(self):
        app = extension.INSTANCE
        style = self.style_box.currentText().strip()
        try:
            app.magic_brush(
                self.prompt.text(),
                "" if style == NO_STYLE else style,
                self.strength.value(),
                texture=self.texture.value(),
            )
        except Exception as e:  # noqa: BLE001 (shown in the docker)
            self.brush_progress.setText(str(e))
            return
        self.update_view()  # Cancel works at once, not at the next refresh

    def _show_styles(self, styles):
        known = [self.style_box.itemText(i) for i in range(1, self.style_box.count())]
        if list(styles) != known:
            chosen = self.style_box.currentText()
            self.style_box.clear()
            self.style_box.addItem(NO_STYLE)
            self.style_box.addItems(list(styles))
            self.style_box.setCurrentText(chosen)

    def _show_magic(self, run):
        busy = run is not None and not run.finished
        self.brush_stop.setEnabled(busy)
        if run is None:
            return
        if busy:
            self.brush_progress.setText(f"step {run.step + 1} of {run.steps}" if run.steps else "sending the canvas…")
        elif run.cancelled:
            self.brush_progress.setText("cancelled")
        elif run.error is not None:
            self.brush_progress.setText(f"not painted: {run.error}")
        else:
            note = f" — {run.note}" if run.note else ""
            self.brush_progress.setText(f"painted by {run.model or 'the daemon'} on a new layer{note}")

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
            imagine = None
            if self.imagine.isChecked():
                prompt, style = self.prompt.text().strip(), self.style_box.currentText().strip()
                style = "" if style == NO_STYLE else style
                if prompt and style:
                    raise RuntimeError("a prompt or a style, not both")
                imagine = {"strength": self.strength.value()}
                imagine.update({"prompt": prompt} if prompt else {"style": style} if style else {})
            painter = self.painter_box.currentData() or ""
            app.continue_painting(self.count.value(), temperature, reference, painter=painter, imagine=imagine)
        except Exception as e:  # noqa: BLE001 (shown in the docker)
            self.progress.setText(str(e))

    def _show_log(self):
        app = extension.INSTANCE
        path = app.daemon_log if app else None
        text = daemon.tail(path, 40) if path else ""
        QtWidgets.QMessageBox.information(self, "Apprentice daemon log", f"{path}\n\n{text or '(empty)'}")

    def update_view(self):
        app = extension.INSTANCE
        if app is None:
            return
        address = app.info_address or settings.address()
        if app.info:
            models = (app.info.get("models") or ["none"])[0]  # the one in use
            device = app.info.get("device", "?")
            started = " (started by Krita)" if app.managed is not None and app.managed.running() else ""
            self.status.setText(f"Connected to {address}{started}\nmodel: {models}\ndevice: {device}")
            self._show_styles(app.info.get("styles", []))
            self._show_models(app.info.get("models", []), app.model)
        else:
            why = app.daemon_error or settings.START_HINT
            self.status.setText(f"Not connected to the apprentice daemon at {address} ({app.info_error}).\n{why}")
        self.log_button.setEnabled(bool(app.daemon_log))
        self.record.setChecked(app.recording())
        busy = app.busy()
        self.go.setEnabled(not busy)
        self.brush.setEnabled(not busy)
        self._show_magic(app.magic)
        learning = app.learning
        self.learn_stop.setEnabled(learning is not None and not learning.finished)
        self.learn.setEnabled(learning is None or learning.finished)
        if learning is not None:
            self.learn_progress.setText(learning.describe())
        if app.recorded is not None:
            ops, sessions = app.recorded
            self.recorded.setText(f"{ops} ops recorded in {sessions} sessions")
        run = app.run
        self.stop.setEnabled(run is not None and not run.finished)
        if run is not None:
            total = run.request.get("count", 0)
            if not run.finished:
                self.progress.setText(f"painting {run.painted} / {total}")
            elif run.error is not None:
                self.progress.setText(f"stopped after {run.painted} ops: {run.error}")
            else:
                text = f"painted {run.painted} ops"
                if run.notes:
                    text += f"; {len(run.notes)} not: {run.notes[0]}"
                if run.imagined:
                    text += f"; {run.imagined} imagined pictures on the hidden layer “Imagined”"
                self.progress.setText(text + (f"\n{run.said}" if run.said else ""))
        pending = sum(box.pending() for box in app.outboxes.values())
        errors = [box.error for box in app.outboxes.values() if box.error]
        if errors:
            self.progress.setText(errors[0])
        elif pending:
            self.progress.setText(f"{pending} ops waiting to be sent")
