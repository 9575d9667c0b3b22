"""File > Export and the right-click menus in a real window (offscreen): what is written, copied and cancelled.

References: dcmtk's dcmj2pnm for pixels, PyAV for the clip, the files' own bytes for copies.
"""

from __future__ import annotations

import shutil
import subprocess
import threading

import av
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QPushButton

CT = get_testdata_file("693_UNCI.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)

needs_dcmtk = pytest.mark.skipif(shutil.which("dcmj2pnm") is None, reason="dcmtk's dcmj2pnm is not installed")


def dcmtk(tmp_path, path, *args) -> np.ndarray:
    out = tmp_path / f"dcmtk-{len(list(tmp_path.glob('dcmtk-*')))}.png"
    subprocess.run(["dcmj2pnm", "-O", "+on", *args, str(path), str(out)], check=True, capture_output=True, timeout=60)
    return np.asarray(Image.open(out))


def psnr(a, b) -> float:
    error = np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0**2 / error)


def copy_of(tmp_path, source, name="in"):
    """The test file in a folder of its own (exports never go into a source folder; pydicom's holds many series)."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(source, folder)
    return folder / source.split("/")[-1]


def wait_for(qtbot, job):
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=60000)
    return job


def test_the_export_menu_and_keys(main_window, open_in):
    window = open_in(main_window, [CT])
    texts = [a.text().replace("&", "") for a in window.export_menu.actions() if a.text()]
    assert texts == [
        "Image as PNG or JPEG...",
        "Image with annotations as PNG or JPEG...",
        "All viewports as seen as PNG or JPEG...",
        "Series as PNG pictures...",
        "Cine or series as MP4 video...",
        "DICOM copy of the selection...",
        "Copy image",
        "Copy image with annotations",
    ]
    file_menu = window.menuBar().actions()[0].menu()
    assert window.export_menu.menuAction() in file_menu.actions()
    keys = [key.toString() for action in window.actions() for key in action.shortcuts() if not key.isEmpty()]
    assert len(keys) == len(set(keys)), sorted(keys)  # no key bound twice
    assert {"Ctrl+C", "Ctrl+Shift+C"} <= set(keys)
    # The browser's right-click menu offers what acts on a selection.
    offered = [a.text().replace("&", "") for a in window.browser.selection_actions]
    assert {"Series as PNG pictures...", "Cine or series as MP4 video...", "DICOM copy of the selection..."} <= set(offered)


@needs_dcmtk
def test_the_image_as_png_and_jpeg_and_on_the_clipboard(main_window, open_in, tmp_path):
    window = open_in(main_window, [CT])
    window.choose_preset("Lung")
    reference = dcmtk(tmp_path, CT, "+Ww", "-600", "1500")  # the Lung preset: L -600 W 1500
    controller = window.export_controller
    png = controller.export_image(False, str(tmp_path / "ct.png"))
    assert np.abs(np.asarray(Image.open(png)).astype(int) - reference.astype(int)).max() <= 1
    jpeg = controller.export_image(False, str(tmp_path / "ct.jpg"))
    assert psnr(np.asarray(Image.open(jpeg)), reference) > 38
    assert controller.copy_image(False)
    image = QGuiApplication.clipboard().image().convertToFormat(QImage.Format.Format_Grayscale8)
    assert (image.width(), image.height()) == (512, 512)
    clipped = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * 512).reshape(512, -1)[:, :512]
    assert np.abs(clipped.astype(int) - reference.astype(int)).max() <= 1
    # Ctrl+C from the window is the same action.
    QGuiApplication.clipboard().clear()
    window.activateWindow()
    controller.copy_action.trigger()
    assert QGuiApplication.clipboard().image().width() == 512


def test_the_image_with_annotations_is_the_viewport_as_seen(main_window, open_in, tmp_path):
    window = open_in(main_window, [CT])
    controller = window.export_controller
    path = controller.export_image(True, str(tmp_path / "seen.png"))
    seen = np.asarray(Image.open(path))
    pane = window.pane
    assert seen.shape[:2] == (pane.height(), pane.width())  # the pane, at its size on the screen
    # The corner text's pale yellow (#f0f0a0) is in the picture, and is not in the plain image.
    yellow = np.all(np.abs(seen.astype(int) - (0xF0, 0xF0, 0xA0)) <= 8, axis=2)
    assert yellow[: pane.height() // 4, : pane.width() // 4].sum() > 20  # the patient's name, top left
    assert controller.copy_image(True)
    assert QGuiApplication.clipboard().image().width() == pane.width()
    assert controller.export_image(True, str(path)) is None  # nothing is written over an existing picture
    assert "exists already" in controller.last_error and (tmp_path / "seen.png").read_bytes() == path.read_bytes()


def test_every_viewport_as_seen(main_window, open_in, tmp_path):
    from viewer.core.display.hanging import GridShape

    window = open_in(main_window, [CT])
    window.layouts.choose(GridShape(1, 2))  # kept for CT in the settings: taken back below, later windows open 1x1
    try:
        _check_every_viewport(window, tmp_path)
    finally:
        window.settings_store.save_hanging({})
        window.settings.hanging = {}


def _check_every_viewport(window, tmp_path):
    layout = window.viewports
    left, right = layout.viewports
    if right.frame is None:
        right.show_series(window.current_series)
    path = window.export_controller.export_image("layout", str(tmp_path / "both.png"))
    seen = np.asarray(Image.open(path))
    assert seen.shape[:2] == (layout.height(), layout.width())
    for viewport in (left, right):  # each pane's image is where the pane is, with its corner text
        x = viewport.pane.mapTo(layout, QPoint(0, 0)).x()
        half = seen[:, x : x + viewport.pane.width()]
        assert half.mean() > 10
        assert np.all(np.abs(half[:60, :200].astype(int) - (0xF0, 0xF0, 0xA0)) <= 8, axis=2).sum() > 20


@needs_dcmtk
def test_a_series_as_pngs_on_a_worker_with_the_viewports_window(main_window, open_in, qtbot, tmp_path):
    source = copy_of(tmp_path, MR_MULTIFRAME)
    window = open_in(main_window, [str(source)])
    window.viewport.set_window(500, 800)
    job = wait_for(qtbot, window.export_controller.export_series_pictures(str(tmp_path / "out")))
    assert job.error is None and job.result == f"10 pictures written to {tmp_path / 'out'}"
    files = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in files] == [f"IMG{n:04d}.png" for n in range(1, 11)]
    for number, path in enumerate(files, start=1):
        reference = dcmtk(tmp_path, source, "+F", str(number), "+Ww", "500", "800")
        assert np.abs(np.asarray(Image.open(path)).astype(int) - reference.astype(int)).max() <= 1
    assert window.statusBar().currentMessage() == job.result


def test_a_cine_as_mp4_from_the_window(main_window, open_in, qtbot, tmp_path):
    source = copy_of(tmp_path, MR_MULTIFRAME)
    window = open_in(main_window, [str(source)])
    job = wait_for(qtbot, window.export_controller.export_mp4(str(tmp_path / "mr.mp4"), fps=8.0))
    assert job.error is None, job.error
    with av.open(str(tmp_path / "mr.mp4")) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="gray") for frame in container.decode(stream)]
        assert stream.codec_context.name == "h264" and stream.average_rate == 8
        assert float(stream.duration * stream.time_base) == pytest.approx(10 / 8, abs=1e-3)
    assert len(frames) == 10
    plain = window.export_controller.export_image(False, str(tmp_path / "shown.png"))  # the frame shown (the middle one of an MR)
    index = window.viewport.display.state.index
    assert psnr(frames[index], np.asarray(Image.open(plain))) > 35


def test_a_dicom_copy_of_the_browsers_selection(main_window, open_in, qtbot, tmp_path):
    source = copy_of(tmp_path, CT)
    before = source.read_bytes()
    window = open_in(main_window, [str(source)])
    job = wait_for(qtbot, window.export_controller.copy_dicom(str(tmp_path / "copy")))
    assert job.error is None and job.result == f"1 file copied to {tmp_path / 'copy'}"
    assert (tmp_path / "copy" / source.name).read_bytes() == before == source.read_bytes()
    # Again: the copy there is never replaced; one line says so.
    job = wait_for(qtbot, window.export_controller.copy_dicom(str(tmp_path / "copy")))
    assert "holds 1 file of these names already" in job.error and "\n" not in job.error
    assert window.export_controller.last_error.endswith(job.error)


def test_cancel_stops_a_long_export_and_keeps_nothing(main_window, open_in, qtbot, tmp_path, monkeypatch):
    """The export waits on a gate until Cancel is pressed: the window goes on meanwhile, and nothing is kept."""
    import viewer.ui.sharing.export_actions as export_actions

    source = copy_of(tmp_path, MR_MULTIFRAME)
    window = open_in(main_window, [str(source)])
    gate, real = threading.Event(), export_actions.export_pictures

    def gated(*args, **kwargs):
        gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(export_actions, "export_pictures", gated)
    job = window.export_controller.export_series_pictures(str(tmp_path / "out"))
    assert job.dialog.isVisible() and not job.dialog.isModal()
    shown = window.viewport.display.state.index
    window.step(1)  # the window answers while the export runs
    qtbot.waitUntil(lambda: window.viewport.display.state.index == shown + 1, timeout=5000)
    qtbot.mouseClick(job.dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)  # the dialog's Cancel
    gate.set()
    wait_for(qtbot, job)
    assert job.error == "cancelled: nothing was kept" and job.result is None
    assert not (tmp_path / "out").exists()


def test_the_viewports_right_click_menu(main_window, open_in, qtbot):
    window = open_in(main_window, [CT])
    controller = window.export_controller
    view = window.pane.view
    centre = view.viewport().rect().center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=centre)
    qtbot.waitUntil(lambda: controller.last_menu is not None, timeout=5000)
    texts = [a.text().replace("&", "") for a in controller.last_menu.actions() if a.text()]
    assert texts[:2] == ["Image as PNG or JPEG...", "Image with annotations as PNG or JPEG..."]
    assert "Cine or series as MP4 video..." in texts and "Copy image" in texts
    controller.last_menu.close()
    assert not window.pane.view_box.menuEnabled()  # pyqtgraph's own menu stays off
    window.pane.context_menu_requested.emit(QPoint(0, 0))  # as the view box does


def test_exports_say_why_when_nothing_is_shown(main_window, tmp_path):
    controller = main_window.export_controller
    assert controller.export_image(False, str(tmp_path / "a.png")) is None
    assert controller.last_error == "Export image: no image is shown to export"
    assert controller.export_series_pictures(str(tmp_path / "b")) is None and "no series of images is chosen" in controller.last_error
    assert controller.copy_dicom(str(tmp_path / "c")) is None and controller.last_error == "DICOM copy: no files are chosen"
    assert not controller.copy_image(False)
    assert list(tmp_path.iterdir()) == []


def test_the_source_image_is_untouched_by_every_export(main_window, open_in, qtbot, tmp_path):
    source = copy_of(tmp_path, CT)
    before = (source.read_bytes(), source.stat().st_mtime_ns)
    window = open_in(main_window, [str(source)])
    controller = window.export_controller
    controller.export_image(True, str(tmp_path / "a.png"))
    wait_for(qtbot, controller.export_series_pictures(str(tmp_path / "b")))
    wait_for(qtbot, controller.export_mp4(str(tmp_path / "c.mp4"), fps=2))
    assert (source.read_bytes(), source.stat().st_mtime_ns) == before
    assert sorted(p.name for p in source.parent.iterdir()) == [source.name]
    assert pydicom.dcmread(source).SOPInstanceUID


def test_several_chosen_series_each_go_their_own_way(main_window, qtbot, tmp_path):
    """The browser's tree with two patients of two series each chosen: a folder of pictures, a clip and copies for each."""
    from tests.ui.test_browser import make_study

    make_study(tmp_path / "src", patients=2, series_per_patient=2, slices=3)
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path / "src"])
    qtbot.waitUntil(lambda: len(main_window.browser.series_items()) == 4, timeout=20000)
    main_window.browser.show_tree(True)
    main_window.browser.tree.selectAll()
    controller = main_window.export_controller
    job = wait_for(qtbot, controller.export_series_pictures(str(tmp_path / "pictures")))
    assert job.error is None and job.result == f"12 pictures written to {tmp_path / 'pictures'}"
    folders = sorted(p.name for p in (tmp_path / "pictures").iterdir())
    assert folders == ["ID0_CT_1_series_1", "ID0_CT_2_series_2", "ID1_CT_1_series_1", "ID1_CT_2_series_2"]
    for folder in folders:
        assert sorted(p.name for p in (tmp_path / "pictures" / folder).iterdir()) == ["IMG0001.png", "IMG0002.png", "IMG0003.png"]
    (tmp_path / "clips").mkdir()
    job = wait_for(qtbot, controller.export_mp4(str(tmp_path / "clips"), fps=3))
    assert job.error is None, job.error
    assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == [f"{name}.mp4" for name in folders]
    job = wait_for(qtbot, controller.copy_dicom(str(tmp_path / "copy")))
    sources = sorted((tmp_path / "src").rglob("*.dcm"))
    copies = sorted((tmp_path / "copy").iterdir())
    assert job.error is None and len(copies) == 12  # im0.dcm, im0-2.dcm...: one name each
    assert sorted(p.read_bytes() for p in copies) == sorted(p.read_bytes() for p in sources)


def test_cancelling_several_series_takes_back_the_finished_ones(main_window, qtbot, tmp_path, monkeypatch):
    """Cancel while the third of four series waits: the two written already are removed, and the folder made for them."""
    import viewer.ui.sharing.export_actions as export_actions
    from tests.ui.test_browser import make_study

    make_study(tmp_path / "src", patients=2, series_per_patient=2, slices=2)
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path / "src"])
    qtbot.waitUntil(lambda: len(main_window.browser.series_items()) == 4, timeout=20000)
    main_window.browser.show_tree(True)
    main_window.browser.tree.selectAll()
    gate, calls, real = threading.Event(), [], export_actions.export_pictures

    def gated(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 3:
            gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(export_actions, "export_pictures", gated)
    job = main_window.export_controller.export_series_pictures(str(tmp_path / "out"))
    qtbot.waitUntil(lambda: len(calls) == 3, timeout=20000)
    assert len(list((tmp_path / "out").iterdir())) == 2  # two series written
    qtbot.mouseClick(job.dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)
    gate.set()
    wait_for(qtbot, job)
    assert job.error == "cancelled: nothing was kept"
    assert not (tmp_path / "out").exists()


def test_a_measurement_is_in_the_image_with_annotations_only(main_window, open_in, qtbot, tmp_path):
    """A length kept for the image (``measure --save``) is drawn by the viewport: in the picture as seen, not in the plain one."""
    import os

    import pydicom
    from pydicom.uid import generate_uid

    from viewer.app import main
    from viewer.ui.tools.measure_items import COLOUR

    source = copy_of(tmp_path, CT)
    # An image of its own: measurements are kept by SOP Instance UID for the whole session, and later
    # tests that show pydicom's CT_small must not find this line drawn over it.
    ds = pydicom.dcmread(source)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(source)
    data = os.path.join(os.environ["DICOM_VIEWER_DATA"], "measurements")
    assert main(["measure", str(source), "--line", "100", "256", "400", "256", "--save", "--data-dir", data]) == 0
    window = open_in(main_window, [str(source)])
    layer = window.measure_controller.layers[window.viewport]
    qtbot.waitUntil(lambda: bool(layer.items), timeout=10000)
    colour = (COLOUR.red(), COLOUR.green(), COLOUR.blue())
    seen = np.asarray(Image.open(window.export_controller.export_image(True, str(tmp_path / "seen.png"))))
    plain = np.asarray(Image.open(window.export_controller.export_image(False, str(tmp_path / "plain.png"))))
    assert np.all(np.abs(seen.astype(int) - colour) <= 10, axis=2).sum() > 100  # the line, across the image
    assert plain.ndim == 2  # grey: nothing drawn over it


def test_closing_the_window_cancels_a_running_export(main_window, open_in, qtbot, tmp_path, monkeypatch):
    import viewer.ui.sharing.export_actions as export_actions

    source = copy_of(tmp_path, MR_MULTIFRAME)
    window = open_in(main_window, [str(source)])
    gate, real = threading.Event(), export_actions.export_pictures
    monkeypatch.setattr(export_actions, "export_pictures", lambda *a, **k: (gate.wait(30), real(*a, **k))[1])
    job = window.export_controller.export_series_pictures(str(tmp_path / "out"))
    opener = threading.Timer(0.2, gate.set)  # closing waits for the running task: let it go on meanwhile
    opener.start()
    window.close()
    opener.join()
    assert job.cancel.cancelled
    assert not (tmp_path / "out").exists()
