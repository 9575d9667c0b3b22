"""Settings and About, as a user would use them."""

from __future__ import annotations

from pydicom.data import get_testdata_file

from viewer.core.pixels import presets
from viewer.ui.dialogs import AboutDialog, SettingsDialog
from viewer.ui.main_window import MainWindow

CT = get_testdata_file("693_UNCI.dcm", download=False)


def test_about_lists_versions_and_licences(main_window, qtbot):
    dialog = AboutDialog(main_window)
    qtbot.addWidget(dialog)
    text = dialog.findChildren(type(dialog.layout().itemAt(0).widget()))[0].text()
    for name in ("pydicom", "pynetdicom", "pylibjpeg-openjpeg", "pyjpegls", "python-gdcm", "GPL-3.0", "Qt"):
        assert name in text


def test_settings_change_presets_memory_and_ae_and_survive_a_restart(main_window, open_in, qtbot):
    original = dict(presets.CT_PRESETS)
    try:
        open_in(main_window, [CT])
        dialog = SettingsDialog(main_window)
        qtbot.addWidget(dialog)
        dialog.cache_mb.setValue(256)
        dialog._add_preset_row("Sinus", 400, 3000)
        dialog.local_aet.setText("MYVIEWER")
        dialog.apply()
        assert main_window.store.max_bytes == 256 * 1024 * 1024
        main_window.choose_preset("Sinus")
        assert main_window.effective_voi().center == 400 and main_window.effective_voi().width == 3000
        main_window.close()
        presets.CT_PRESETS.clear()
        presets.CT_PRESETS.update(original)
        again = MainWindow()  # a restart: everything comes back from the settings
        qtbot.addWidget(again)
        assert again.store.max_bytes == 256 * 1024 * 1024
        assert "Sinus" in presets.CT_PRESETS
        assert again.query_panel.local.ae_title == "MYVIEWER"
        again.close()
    finally:
        presets.CT_PRESETS.clear()
        presets.CT_PRESETS.update(original)
        from viewer.ui.main_window import settings

        settings().remove("presets")
        settings().remove("cache_mb")


def test_settings_refuse_a_bad_preset(main_window, qtbot):
    dialog = SettingsDialog(main_window)
    qtbot.addWidget(dialog)
    dialog._add_preset_row("Broken", 40, -5)
    dialog.apply()
    assert dialog.isVisible() or "width" in dialog.network_warning.text()
    assert "width must be more than 0" in dialog.network_warning.text()
