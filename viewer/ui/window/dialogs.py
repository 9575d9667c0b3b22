"""The About box and the Settings dialog.

Settings live where a user looks for them (Edit > Settings): memory for
images, the offer to open DICOM media when inserted, the window presets, the
character-set choices made in the tag inspector, recent locations, and this
app's AE title for the PACS. Each page
writes straight to the same stores the rest of the app reads (QSettings, the
network file), so nothing is kept twice.
"""

from __future__ import annotations

import platform

from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from viewer import __version__
from viewer.core.dicom import charset
from viewer.core.dicom.io import ViewerError
from viewer.core.net.nodes import LocalAE, check_ae_title
from viewer.core.runtime.about import component_versions
from viewer.ui.window import theme


class AboutDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("About DICOM Viewer")
        rows = "".join(
            f"<tr><td>{name}</td><td>{version}</td><td>{role}</td><td>{licence}</td></tr>"
            for name, version, role, licence in component_versions()
        )
        text = (
            f"<h3>DICOM Viewer {__version__}</h3>"
            f"<p>Python {platform.python_version()}, Qt {qVersion()}</p>"
            "<p>Not a medical device: for review, not for diagnosis.</p>"
            f"<table cellspacing=6><tr><th align=left>Component</th><th align=left>Version</th><th align=left>Used for</th><th align=left>Licence</th></tr>{rows}</table>"
        )
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)


class SettingsDialog(QDialog):
    """Edits settings of `window` (a MainWindow) in place when OK is pressed."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.setWindowTitle("Settings")
        self.tabs = QTabWidget()

        # General: memory, recent locations.
        general = QWidget()
        self.cache_mb = QSpinBox()
        self.cache_mb.setRange(64, 65536)
        self.cache_mb.setSingleStep(64)
        self.cache_mb.setSuffix(" MB")
        self.cache_mb.setValue(window.frame_source.max_bytes // (1024 * 1024))
        clear_recent = QPushButton("Forget recent locations")
        clear_recent.clicked.connect(window.settings_store.forget_recent)
        self.offer_media = QCheckBox("Offer to open a CD, DVD or USB drive with DICOM images when it is inserted")
        self.offer_media.setChecked(window.media_watcher.enabled)
        self.theme = QComboBox()
        for name, label in theme.THEMES:
            self.theme.addItem(label, name)
        self.theme.setCurrentIndex(max(0, self.theme.findData(window.settings.theme)))
        form = QFormLayout(general)
        form.addRow("Colours", self.theme)
        form.addRow("Decoded images kept in memory", self.cache_mb)
        form.addRow("", clear_recent)
        form.addRow("", self.offer_media)
        self.tabs.addTab(general, "General")

        # Window presets (CT, in HU).
        self.presets = QTableWidget(0, 3)
        self.presets.setHorizontalHeaderLabels(["Name", "Level (center)", "Width"])
        for name, (center, width) in window.settings.presets.ct.items():
            self._add_preset_row(name, center, width)
        add_row = QPushButton("Add")
        add_row.clicked.connect(lambda: self._add_preset_row("New preset", 40, 400))
        remove_row = QPushButton("Remove")
        remove_row.clicked.connect(lambda: self.presets.removeRow(self.presets.currentRow()))
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(QLabel("CT window presets, in Hounsfield units:"))
        column.addWidget(self.presets, 1)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(add_row)
        buttons_row.addWidget(remove_row)
        buttons_row.addStretch(1)
        column.addLayout(buttons_row)
        self.tabs.addTab(page, "Window presets")

        # Character sets chosen in the tag inspector.
        self.overrides = QListWidget()
        self._fill_overrides()
        forget = QPushButton("Forget the selected choice")
        forget.clicked.connect(self._forget_override)
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(QLabel("Character sets you chose for files whose own declaration is wrong or missing:"))
        column.addWidget(self.overrides, 1)
        column.addWidget(forget)
        self.tabs.addTab(page, "Character sets")

        # Network: this application's AE (nodes are edited in the Remote panel).
        page = QWidget()
        panel = window.query_panel
        self.local_aet = QLineEdit(panel.local.ae_title)
        self.local_aet.setMaxLength(16)
        self.move_port = QSpinBox()
        self.move_port.setRange(1, 65535)
        self.move_port.setValue(panel.local.move_port)
        self.network_warning = QLabel("")
        self.network_warning.setStyleSheet("color: #b35900")
        form = QFormLayout(page)
        form.addRow("This app's AE title", self.local_aet)
        form.addRow("Port for C-MOVE", self.move_port)
        form.addRow("Remote nodes", QLabel("add and edit them in the Remote (PACS) panel"))
        self.tabs.addTab(page, "Network")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.network_warning)  # one place for every page's complaint
        layout.addWidget(buttons)
        self.resize(560, 440)

    def _add_preset_row(self, name: str, center: float, width: float) -> None:
        row = self.presets.rowCount()
        self.presets.insertRow(row)
        for column, value in enumerate((name, f"{center:g}", f"{width:g}")):
            self.presets.setItem(row, column, QTableWidgetItem(value))

    def _fill_overrides(self) -> None:
        self.overrides.clear()
        self._override_keys = []
        labels = {"files": "file", "series": "series", "stations": "station", "institutions": "institution"}
        for scope in charset.CharsetOverrides.SCOPES:
            for key, code in getattr(self.window.settings.charset_overrides, scope).items():
                self.overrides.addItem(f"{labels[scope]} {key}: {charset.LABELS.get(code, code)}")
                self._override_keys.append((scope, key))

    def _forget_override(self) -> None:
        row = self.overrides.currentRow()
        if 0 <= row < len(self._override_keys):
            scope, key = self._override_keys[row]
            self.window.settings_controller.set_charset_override(scope, key, "")
            self._fill_overrides()

    def preset_table(self) -> dict[str, tuple[float, float]]:
        """The presets as edited (raises ViewerError for a value that is not a number)."""
        table = {}
        for row in range(self.presets.rowCount()):
            name = (self.presets.item(row, 0).text() if self.presets.item(row, 0) else "").strip()
            if not name:
                continue
            try:
                center = float(self.presets.item(row, 1).text())
                width = float(self.presets.item(row, 2).text())
            except (AttributeError, ValueError):
                raise ViewerError(f"preset '{name}': level and width must be numbers") from None
            if width <= 0:
                raise ViewerError(f"preset '{name}': the width must be more than 0")
            table[name] = (center, width)
        return table

    def apply(self) -> None:
        try:
            table = self.preset_table()
            local = LocalAE(self.local_aet.text(), self.move_port.value())
            _, warning = check_ae_title(local.ae_title)
        except ViewerError as exc:
            self.network_warning.setText(exc.reason)
            return
        self.window.media_watcher.set_enabled(self.offer_media.isChecked())
        self.window.settings_controller.set_theme(self.theme.currentData())
        self.window.settings_controller.apply(self.cache_mb.value(), table, local)
        self.accept()
