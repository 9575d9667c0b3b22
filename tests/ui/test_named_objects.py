"""Files named on opening (a drop, the command line, a double-click on many files): none is read on the GUI thread
to find out what it is; the scan says it, and a PDF, a CDA or an ECG named directly then opens in its own window
(viewer.ui.browsing.opening's ``named_object_found`` -> viewer.ui.documents.report_view's ``ReportController.open_named``)."""

from __future__ import annotations

import importlib
import shutil
import sys
import threading
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer.ui.documents.document_view import DocumentView
from viewer.ui.documents.waveform_view import WaveformView

sys.path.insert(0, str(Path(__file__).parent.parent))
files = importlib.import_module("document_files")

pytestmark = files.needs_dcmtk

#: The files opened while recording: (path, opened on the GUI thread). Python's audit hook sees every
#: open() and os.open() in this process, whatever reads the file; a hook cannot be removed, so it only
#: records while this is a list.
_opened: list[tuple[str, bool]] | None = None
_root = ""


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], (str, Path)) and str(args[0]).startswith(_root):
        _opened.append((str(args[0]), threading.current_thread() is threading.main_thread()))


_hooked = False


@pytest.fixture
def opened_files(tmp_path):
    """Record the files under `tmp_path` opened, and on which thread, until the test ends."""
    global _opened, _root, _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    _root, _opened = str(tmp_path), []
    yield _opened
    _opened = None


def test_a_thousand_files_named_none_read_on_the_gui_thread_and_the_named_pdf_cda_and_ecg_open(main_window, qtbot, tmp_path, opened_files):
    named = tmp_path / "named"
    named.mkdir()
    ct = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    images = []
    for number in range(995):
        path = named / f"ct{number:04}.dcm"
        path.write_bytes(ct)
        images.append(path)
    pdf, _ = files.encapsulated_pdf(named, pages=1, name="letter")
    cda, _ = files.encapsulated_cda(named)
    ecg = named / "ecg.dcm"
    shutil.copy(get_testdata_file("waveform_ecg.dcm"), ecg)
    broken = named / "broken.dcm"
    broken.write_bytes(ct[:300])  # cut short in its header
    disc = tmp_path / "disc"  # a folder named: its PDF is listed, not opened
    disc.mkdir()
    inside, _ = files.encapsulated_pdf(disc, pages=1, name="inside")
    shutil.copy(get_testdata_file("CT_small.dcm"), disc / "ct.dcm")
    paths = [str(p) for p in [*images, pdf, cda, ecg, broken, disc]]
    assert len(paths) == 1000
    del opened_files[:]  # writing them is not reading them

    with qtbot.waitSignal(main_window.series_opened, timeout=120000):
        main_window.open_paths(paths)
        assert [path for path, on_gui_thread in opened_files if on_gui_thread] == []  # open_paths returned, having read none
    qtbot.waitUntil(lambda: len(main_window.findChildren(DocumentView)) == 2 and bool(main_window.findChildren(WaveformView)))

    read_on_gui_thread = {path for path, on_gui_thread in opened_files if on_gui_thread}
    # Only what is shown is read on the GUI thread, once the scan has listed it: a document's bytes, an ECG's samples,
    # the header of the image in the viewport; the scan read every file (the 995 images, the broken one, the
    # folder's) on its worker thread.
    shown_image = read_on_gui_thread - {str(pdf), str(cda), str(ecg)}
    assert len(shown_image) <= 1 and shown_image <= {str(i.path) for i in main_window.current_series.instances}, sorted(shown_image)[:5]
    read_by_the_scan = {path for path, on_gui_thread in opened_files if not on_gui_thread}
    assert {str(p) for p in [*images, broken, inside]} <= read_by_the_scan

    documents = main_window.findChildren(DocumentView)
    assert sorted(view.document.path for view in documents) == sorted([pdf, cda])  # not the folder's PDF
    [waveform] = main_window.findChildren(WaveformView)
    assert waveform.windowTitle().startswith("ecg.dcm") and len(waveform.curves) == 12
    kinds = sorted(series.kind for series in main_window.series)
    assert kinds.count("PDF") == 2 and "ECG" in kinds  # all listed in the browser, the folder's PDF too
    assert main_window.current_series is not None and main_window.current_series.kind == "image series"  # the first image
    [problem] = [line for line in main_window.problems_dock.problems if "broken.dcm" in line]
    assert "\n" not in problem
    pdf_view = next(view for view in documents if view.document.is_pdf)
    qtbot.waitUntil(lambda: pdf_view.page is not None, timeout=30000)
    for view in documents:
        view.close()
        qtbot.waitUntil(lambda view=view: view.closed)


def test_a_named_document_already_listed_opens_again(main_window, qtbot, tmp_path):
    """The catalog lists a file once; naming it again (a second drop) still opens its window."""
    pdf, _ = files.encapsulated_pdf(tmp_path, pages=1, name="letter")
    for times in (1, 2):
        with qtbot.waitSignal(main_window.series_opened, timeout=30000):
            main_window.open_paths([str(pdf)])
        views = main_window.findChildren(DocumentView)
        assert len(views) == times and all(view.document.path == pdf for view in views)
    assert [series.kind for series in main_window.series] == ["PDF"]
    for view in views:
        qtbot.waitUntil(lambda view=view: view.page is not None or view.error is not None, timeout=30000)
        view.close()
        qtbot.waitUntil(lambda view=view: view.closed)


def test_named_files_are_the_real_paths_of_the_files_named(tmp_path, monkeypatch):
    """As ``Path.resolve`` gives them (what the catalog's files are matched with): links to files and folders, '..',
    a bare name; folders and missing files left out."""
    from viewer.ui.browsing.opening import named_files

    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.dcm").write_bytes(b"x")
    (tmp_path / "real" / "b.dcm").write_bytes(b"x")
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "link.dcm").symlink_to(tmp_path / "real" / "b.dcm")
    monkeypatch.chdir(tmp_path / "real")
    paths = [
        "a.dcm",
        str(tmp_path / "linked" / "a.dcm"),
        str(tmp_path / "linked" / ".." / "real" / "b.dcm"),
        str(tmp_path / "real" / "link.dcm"),
        str(tmp_path / "linked"),
        str(tmp_path / "missing.dcm"),
    ]
    expected = {str(Path(p).resolve()) for p in paths if Path(p).is_file()}
    assert named_files(paths) == expected == {str(tmp_path.resolve() / "real" / n) for n in ("a.dcm", "b.dcm")}


def test_a_named_waveform_of_another_class_opens_too(main_window, qtbot, tmp_path):
    """Not only ECGs: a hemodynamic waveform (PS3.3 A.34.5, listed as 'other') named directly is drawn in its window."""
    import pydicom

    ds = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.9.2.1"  # Hemodynamic Waveform Storage
    path = tmp_path / "pressure.dcm"
    ds.save_as(path)
    with qtbot.waitSignal(main_window.series_opened, timeout=30000):
        main_window.open_paths([str(path)])
    [view] = main_window.findChildren(WaveformView)
    assert view.windowTitle() == "pressure.dcm: Hemodynamic waveform"
    assert [series.kind for series in main_window.series] == ["other"]
