"""The quick first image at start-up: painted before the contents, then replaced by the viewport's own, same pixels.

The steps are the app's (viewer.ui.window.application.run): the window's frame,
then :func:`show_quick_image`, then, after its paint, the contents and the
opening, with :func:`keep_until_viewport_image` in between. Whether the
quick image's grey levels are right is tests/core/test_first_image.py's
business; here: that it is shown, where, and that what replaces it is the same.
"""

from __future__ import annotations

import numpy as np
import pytest
import shiboken6
from pydicom.data import get_testdata_file

from viewer.ui.window.paint_probe import FirstPaintProbe
from viewer.ui.window.quick_image import keep_until_viewport_image, show_quick_image


@pytest.fixture
def frame_only(qtbot):
    """A window as the app first shows it: the frame, not yet its contents."""
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import settings

    settings().remove("window")
    window = MainWindow(deferred=True)
    qtbot.addWidget(window)
    window.resize(1200, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def _painted(qtbot, widget) -> None:
    painted = []
    FirstPaintProbe(widget, lambda: painted.append(True))
    widget.update()
    qtbot.waitUntil(lambda: bool(painted), timeout=10000)


@pytest.mark.parametrize(
    "name, size", [("693_UNCI.dcm", (1200, 900)), ("RG1_UNCI.dcm", (700, 450))], ids=["ct_enlarged", "radiograph_shrunk"]
)
def test_one_file_shows_the_quick_image_then_the_viewports_with_the_same_pixels(qtbot, frame_only, name, size):
    """A CT fitted larger than 1:1; a MONOCHROME1 radiograph (1841 x 1955) shrunk, every n-th pixel drawn, as the pane draws it."""
    window = frame_only
    window.resize(*size)
    ct = get_testdata_file(name, download=False)
    if ct is None:
        pytest.skip(f"{name} is not installed (pydicom-data)")
    quick = show_quick_image(window, [ct])
    assert quick is not None
    _painted(qtbot, quick)
    assert not window.contents_built  # painted before pydicom's part of the window exists
    assert quick.isVisible() and quick.parent() is window.central and quick.geometry() == window.central.rect()
    image = quick.image

    # As the app does after that paint: the contents, the quick image over the pane, the opening.
    window.build_contents()
    window.pane.build_view_after_first_image()
    grabs = []  # at the viewport's first image, before the quick image goes: both, as they paint

    def grab_both() -> None:
        if not grabs:
            grabs.append((quick.geometry() == window.pane.rect(), quick.grab().toImage(), window.pane.image_surface().grab().toImage()))

    window.image_shown.connect(grab_both)
    keep_until_viewport_image(window, quick)
    assert quick.parent() is window.pane and not quick.isHidden()
    qtbot.waitUntil(lambda: quick.geometry() == window.pane.rect() and window.pane.width() > 0, timeout=10000)
    _painted(qtbot, quick)
    assert window.pane.message_label.isVisible()  # the start hint, under the quick image, never seen

    with qtbot.waitSignal(window.image_shown, timeout=30000):
        window.open_paths([ct])
    qtbot.waitUntil(lambda: not shiboken6.isValid(quick), timeout=10000)  # gone once the viewport shows its image

    shown = window.frame.render(window.effective_voi(), window.display.state.invert)
    assert np.array_equal(shown, np.frombuffer(image.pixels, np.uint8).reshape(image.rows, image.columns))
    covers_pane, quick_painted, viewport_painted = grabs[0]
    shrunk = min(quick_painted.width() / image.columns, quick_painted.height() / image.rows) < 0.5  # every n-th pixel drawn
    assert shrunk == (name == "RG1_UNCI.dcm")
    assert covers_pane and quick_painted.size() == viewport_painted.size()
    assert viewport_painted.convertToFormat(quick_painted.format()) == quick_painted  # painted alike, pixel for pixel


def test_the_quick_image_goes_when_nothing_is_shown(qtbot, frame_only, tmp_path):
    """The opening ends without an image (here: another folder, empty): the quick image does not stay."""
    window = frame_only
    quick = show_quick_image(window, [get_testdata_file("693_UNCI.dcm", download=False)])
    assert quick is not None
    window.build_contents()
    keep_until_viewport_image(window, quick)
    with qtbot.waitSignal(window.series_opened, timeout=30000):
        window.open_paths([str(tmp_path)])
    qtbot.waitUntil(lambda: not shiboken6.isValid(quick), timeout=10000)


def test_no_quick_image_unless_one_file_of_the_simple_kind(frame_only, tmp_path):
    ct = get_testdata_file("693_UNCI.dcm", download=False)
    assert show_quick_image(frame_only, [get_testdata_file("CT_small.dcm")]) is None  # no window of its own
    assert show_quick_image(frame_only, [ct, ct]) is None
    assert show_quick_image(frame_only, [str(tmp_path)]) is None
    assert show_quick_image(frame_only, []) is None


def test_a_disc_shows_the_quick_image_of_the_image_the_viewport_then_shows(qtbot, frame_only, tmp_path):
    """A media folder (dcmmkdir's DICOMDIR over three CT slices): the middle slice, found from the records, then the same pixels."""
    import shutil
    import subprocess

    import pydicom
    from pydicom.uid import generate_uid

    dcmmkdir = shutil.which("dcmmkdir")
    ct = get_testdata_file("693_UNCI.dcm", download=False)
    if dcmmkdir is None or ct is None:
        pytest.skip("needs dcmtk's dcmmkdir and pydicom-data's 693_UNCI.dcm")
    root = tmp_path / "CDROM"
    (root / "CT").mkdir(parents=True)
    template = pydicom.dcmread(ct)
    pixels = template.pixel_array
    for i, (number, shift) in enumerate([(3, 200), (1, 0), (2, 100)]):  # the middle slice, number 2, is CT/IM2
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        template.InstanceNumber = number
        template.PixelData = (pixels + shift).astype(pixels.dtype).tobytes()  # each slice its own pixels
        template.save_as(root / "CT" / f"IM{i}", enforce_file_format=True)
    subprocess.run([dcmmkdir, "+r", "+I", "+id", str(root), "-Pgp", "+D", str(root / "DICOMDIR"), "CT"], check=True, capture_output=True)

    window = frame_only
    quick = show_quick_image(window, [str(root)])
    assert quick is not None
    _painted(qtbot, quick)
    assert not window.contents_built
    image = quick.image
    window.build_contents()
    window.pane.build_view_after_first_image()
    keep_until_viewport_image(window, quick)
    with qtbot.waitSignal(window.image_shown, timeout=30000):
        window.open_paths([str(root)])
    qtbot.waitUntil(lambda: not shiboken6.isValid(quick), timeout=10000)
    assert window.images[window.display.state.index].instance.path == root / "CT" / "IM2"
    shown = window.frame.render(window.effective_voi(), window.display.state.invert)
    assert np.array_equal(shown, np.frombuffer(image.pixels, np.uint8).reshape(image.rows, image.columns))
