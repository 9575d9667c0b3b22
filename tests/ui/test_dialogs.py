"""Settings and About, as a user would use them."""

from __future__ import annotations

from pydicom.data import get_testdata_file

from viewer.ui.window.dialogs import AboutDialog, SettingsDialog
from viewer.ui.window.main_window import MainWindow

CT = get_testdata_file("693_UNCI.dcm", download=False)


def test_about_lists_versions_and_licences(main_window, qtbot):
    dialog = AboutDialog(main_window)
    qtbot.addWidget(dialog)
    text = dialog.findChildren(type(dialog.layout().itemAt(0).widget()))[0].text()
    for name in ("pydicom", "pynetdicom", "pylibjpeg-openjpeg", "pyjpegls", "python-gdcm", "GPL-3.0", "Qt"):
        assert name in text


def test_settings_change_presets_memory_and_ae_and_survive_a_restart(main_window, open_in, qtbot):
    try:
        open_in(main_window, [CT])
        dialog = SettingsDialog(main_window)
        qtbot.addWidget(dialog)
        dialog.cache_mb.setValue(256)
        dialog._add_preset_row("Sinus", 400, 3000)
        dialog.local_aet.setText("MYVIEWER")
        dialog.apply()
        assert main_window.frame_source.max_bytes == 256 * 1024 * 1024
        main_window.choose_preset("Sinus")
        assert main_window.effective_voi().center == 400 and main_window.effective_voi().width == 3000
        main_window.close()
        again = MainWindow()  # a restart: everything comes back from the settings
        qtbot.addWidget(again)
        assert again.frame_source.max_bytes == 256 * 1024 * 1024
        assert "Sinus" in again.settings.presets.ct
        assert again.query_panel.local.ae_title == "MYVIEWER"
        again.close()
    finally:
        from viewer.ui.window.settings_store import settings

        settings().remove("presets")
        settings().remove("cache_mb")


def test_settings_refuse_a_bad_preset(main_window, qtbot):
    dialog = SettingsDialog(main_window)
    qtbot.addWidget(dialog)
    dialog._add_preset_row("Broken", 40, -5)
    dialog.apply()
    assert dialog.isVisible() or "width" in dialog.network_warning.text()
    assert "width must be more than 0" in dialog.network_warning.text()


def test_node_dialog_keeps_each_timeout_and_everything_else_when_a_node_is_edited(qtbot):
    """Editing a node (a new name, say) changes nothing else the user set: the three timeouts
    (connect, association, inactivity; 0 = wait for ever), TLS files, character sets, model."""
    from viewer.core.net.nodes import LocalAE, Node, Timeouts
    from viewer.ui.browsing.query_panel import NodeDialog

    node = Node(
        "PACS",
        "PACS_1",
        "pacs.example",
        11112,
        retrieve="move",
        query_model="patient",
        charset="ISO_IR 100",
        assume_charset="ISO_IR 144",
        tls_ca_file="/ca.pem",
        tls_cert_file="/me.pem",
        tls_key_file="/me.key",
        timeouts=Timeouts(connect=4, acse=12, dimse=None),
    )
    dialog = NodeDialog(node, LocalAE("VIEWER", 11113))
    qtbot.addWidget(dialog)
    assert dialog.timeout.text() == "never (wait for ever)"
    dialog.name.setText("Hospital PACS")
    edited, local = dialog.values()
    assert edited == Node(**{**vars(node), "name": "Hospital PACS"})
    assert local == LocalAE("VIEWER", 11113)
    dialog.acse_timeout.setValue(45)
    dialog.timeout.setValue(300)
    assert dialog.values()[0].timeouts == Timeouts(connect=4, acse=45, dimse=300)
