"""The waveform view (#16): pydicom's 12-lead ECG on ECG paper, against pydicom's ``waveform_array``."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core.documents.waveform import read_waveform
from viewer.ui.documents.waveform_view import ROW_MV, WaveformView, open_waveform

ECG = get_testdata_file("waveform_ecg.dcm")


@pytest.fixture
def view(qtbot):
    widget = WaveformView(read_waveform(ECG))
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_traces_labels_and_paper_proportions(view):
    ds = pydicom.dcmread(ECG)
    expected = ds.waveform_array(0) / 1000.0  # uV -> mV
    assert len(view.curves) == 12
    for row, curve in enumerate(view.curves):
        x, y = curve.getOriginalDataset()
        np.testing.assert_allclose(x, np.arange(10000) / 1000.0)
        np.testing.assert_allclose(y + (row + 0.5) * ROW_MV, expected[:, row], atol=1e-9)
    meanings = [d.ChannelSourceSequence[0].CodeMeaning for d in ds.WaveformSequence[0].ChannelDefinitionSequence]
    assert [label.textItem.toPlainText() for label in view.labels] == meanings
    (x0, x1), (y0, y1) = view.view_box.viewRange()
    px_per_second, px_per_mv = view.view_box.width() / (x1 - x0), view.view_box.height() / (y1 - y0)
    assert px_per_second / px_per_mv == pytest.approx(25 / 10)  # 25 mm/s against 10 mm/mV


def test_zoom_and_groups(view):
    (x0, x1), _ = view.view_box.viewRange()
    view.zoom(0.5)
    (z0, z1), _ = view.view_box.viewRange()
    assert z1 - z0 == pytest.approx((x1 - x0) / 2, rel=1e-3)
    view.group_combo.setCurrentIndex(1)  # the median beat
    x, _ = view.curves[0].getOriginalDataset()
    assert len(x) == 1200 and view.group.label == "MEDIAN BEAT"


def test_window_opens_an_ecg_in_its_own_view_and_a_damaged_one_in_one_line(main_window, qtbot, tmp_path):
    with qtbot.waitSignal(main_window.series_opened, timeout=30000):
        main_window.open_paths([ECG])  # opened once the scan has listed it (not read on the GUI thread first)
    views = main_window.findChildren(WaveformView)
    assert len(views) == 1 and views[0].isVisible() and len(views[0].curves) == 12
    ds = pydicom.dcmread(ECG)
    damaged = copy.deepcopy(ds)
    damaged.WaveformSequence[0].WaveformData = damaged.WaveformSequence[0].WaveformData[:100]
    path = tmp_path / "cut_ecg.dcm"
    damaged.save_as(path)
    assert open_waveform(main_window, path) is None
    message = main_window.statusBar().currentMessage()
    assert message.startswith("cut_ecg.dcm: multiplex group 1: its waveform data holds 100 bytes") and "\n" not in message


def test_an_ecg_in_a_folder_is_listed_and_a_click_opens_it(main_window, open_in, qtbot, tmp_path):
    import shutil

    folder = tmp_path / "disc"
    folder.mkdir()
    shutil.copy(ECG, folder / "ecg.dcm")
    shutil.copy(get_testdata_file("CT_small.dcm"), folder / "ct.dcm")
    open_in(main_window, [str(folder)])
    ecg = next(series for series in main_window.series if series.kind == "ECG")
    assert not main_window.findChildren(WaveformView)  # listed, not opened by itself
    main_window.browser.object_activated.emit(ecg)  # what a click on its row sends
    views = main_window.findChildren(WaveformView)
    assert len(views) == 1 and len(views[0].curves) == 12
