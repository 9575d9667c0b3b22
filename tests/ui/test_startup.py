"""Start-up: the window paints before pydicom loads; the first image before pyqtgraph and any decoder.

The window's frame is shown before anything that needs pydicom is imported;
its contents follow (MainWindow(deferred=True) and build_contents). pydicom
would import every installed pixel decoder plugin as it loads (gdcm,
pylibjpeg and its plugins, Pillow, pyjpegls); the viewer puts them off until
a frame needs one (viewer.core.display.pixels.plugins), so an uncompressed image is
shown without any. The first image is painted before pyqtgraph is imported
(the pane's view takes over right after). The timing figures are the
start-up benchmark's (benchmarks/bench_startup.py), not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

#: Top-level modules that must not be loaded when the window first paints.
LATE = {"pydicom", "numpy", "pyqtgraph", "pynetdicom", "gdcm", "pylibjpeg", "openjpeg", "libjpeg", "rle", "jpeg_ls", "PIL"}
#: Packages behind pydicom's decoder plugins (with their C parts), and Pillow.
DECODERS = {"gdcm", "_gdcm", "pylibjpeg", "openjpeg", "_openjpeg", "libjpeg", "_libjpeg", "rle", "jpeg_ls", "_CharLS", "PIL"}


def _run_viewer(tmp_path: Path, *args: str) -> dict[str, list[str] | float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        DICOM_VIEWER_STARTUP_REPORT="1",
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    (tmp_path / "runtime").mkdir(mode=0o700, exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "viewer", "--new-window", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report: dict[str, list[str] | float] = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(" ")
        report[key] = json.loads(value) if key.startswith("modules-at-") else float(value) if key.endswith("-painted") else value
    return report


def _top_level(modules) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.slow
def test_window_paints_before_pydicom_and_the_decoders_load(tmp_path):
    report = _run_viewer(tmp_path, str(get_testdata_file("CT_small.dcm")))
    assert "window-painted" in report and "image-painted" in report, report
    assert report["window-painted"] <= report["image-painted"]
    early = _top_level(report["modules-at-window-paint"]) & LATE
    assert not early, f"loaded before the window's first paint: {sorted(early)}"
    # The image needed pydicom, of course; pynetdicom still waits for the query panel's first use.
    late = _top_level(report["modules-at-image-paint"])
    assert "pydicom" in late and "pynetdicom" not in late


@pytest.mark.slow
def test_an_uncompressed_image_is_painted_before_any_decoder_and_pyqtgraph_load(tmp_path):
    report = _run_viewer(tmp_path, str(get_testdata_file("693_UNCI.dcm", download=False)))
    assert "image-painted" in report, report
    # The viewport's own image: the first one painted is the quick one (numpy only; see the next test).
    at_image = report["modules-at-viewport-image-paint"]
    assert "pydicom" in _top_level(at_image)
    assert not _top_level(at_image) & DECODERS, sorted(_top_level(at_image) & DECODERS)
    plugin_packages = ("pydicom.pixels.decoders.", "pydicom.pixels.encoders.", "pydicom.pixel_data_handlers.")
    plugins = [m for m in at_image if m.startswith(plugin_packages)]
    assert set(plugins) <= {
        "pydicom.pixels.decoders.base",
        "pydicom.pixels.decoders.rle",
        "pydicom.pixels.encoders.base",
        "pydicom.pixels.encoders.native",
        "pydicom.pixel_data_handlers.numpy_handler",
        "pydicom.pixel_data_handlers.rle_handler",
    }, plugins
    assert not {"pyqtgraph", "pynetdicom"} & _top_level(at_image)
    assert "viewer.ui.browsing.query_panel" not in at_image  # built when its dock is first shown


@pytest.mark.slow
def test_one_simple_file_is_painted_before_numpy_and_pydicom_load_then_by_the_viewport(tmp_path):
    """A double-clicked CT with its own window: the quick first image (viewer.ui.window.quick_image) needs the standard library only."""
    report = _run_viewer(tmp_path, str(get_testdata_file("693_UNCI.dcm", download=False)))
    assert report["window-painted"] <= report["image-painted"] <= report["viewport-image-painted"], report
    at_image = _top_level(report["modules-at-image-paint"])
    assert not at_image & LATE, sorted(at_image & LATE)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPEGLSNearLossless_16.dcm", "MR_small_RLE.dcm"])
def test_a_compressed_image_is_painted_at_start_up(tmp_path, name):
    """Its decoder is imported where it is decoded, on first use (the app reports once the image is painted)."""
    report = _run_viewer(tmp_path, str(get_testdata_file(name, download=False)))
    assert report["window-painted"] <= report["image-painted"]


@pytest.fixture
def deferred_window(qtbot):
    """A window as the app first shows it: the frame, not yet its contents."""
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import settings

    settings().remove("window")
    window = MainWindow(deferred=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def test_a_deferred_window_builds_its_contents_when_asked_to_open(qtbot, deferred_window):
    """A path handed over (drop, second launch) before the contents are built still opens."""
    window = deferred_window
    assert not window.contents_built and window.series == []
    assert window.browser_dock.widget() is None  # the frame only
    with qtbot.waitSignal(window.image_shown, timeout=10000):
        window.open_paths([get_testdata_file("CT_small.dcm")])
    assert window.contents_built and window.browser_dock.widget() is window.browser
    assert window.frame is not None


def test_a_key_pressed_before_the_contents_are_built_does_no_harm(deferred_window):
    deferred_window.fit_action.trigger()  # "F" before the pane exists
    assert deferred_window.contents_built and deferred_window.pane is not None


def test_closing_a_window_whose_contents_were_never_built(qtbot):
    from viewer.ui.window.main_window import MainWindow

    window = MainWindow(deferred=True)
    qtbot.addWidget(window)
    window.show()
    window.close()
    assert not window.contents_built


@pytest.mark.slow
def test_a_disc_is_painted_before_numpy_and_pydicom_load_then_by_the_viewport(tmp_path):
    """A media folder (dcmmkdir's DICOMDIR): its first image is found from the records with the standard library only."""
    import shutil

    import pydicom
    from pydicom.uid import generate_uid

    dcmmkdir = shutil.which("dcmmkdir")
    ct = get_testdata_file("693_UNCI.dcm", download=False)
    if dcmmkdir is None or ct is None:
        pytest.skip("needs dcmtk's dcmmkdir and pydicom-data's 693_UNCI.dcm")
    media = tmp_path / "CDROM"
    (media / "CT").mkdir(parents=True)
    template = pydicom.dcmread(ct)
    for i in range(3):
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        template.InstanceNumber = i + 1
        template.save_as(media / "CT" / f"IM{i}", enforce_file_format=True)
    subprocess.run([dcmmkdir, "+r", "+I", "+id", str(media), "-Pgp", "+D", str(media / "DICOMDIR"), "CT"], check=True, capture_output=True)
    report = _run_viewer(tmp_path, str(media))
    assert report["window-painted"] <= report["image-painted"] <= report["viewport-image-painted"], report
    at_image = _top_level(report["modules-at-image-paint"])
    assert not at_image & LATE, sorted(at_image & LATE)
