"""Measurements kept per image in the app's data folder, brought back by UID, exported as CSV (issue #15)."""

from __future__ import annotations

import csv
import json
import os

import pydicom
import pytest
from measure_files import write_image

from viewer.core.dicom.io import ViewerError
from viewer.core.measure.geometry import Shape
from viewer.core.measure.measure import measure
from viewer.core.measure.store import CSV_COLUMNS, ImageIdentity, MeasurementStore, default_data_dir


def test_saved_measurements_come_back_by_uid_and_frame(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    path = write_image(source / "ct.dcm", "CT", PixelSpacing=[0.5, 0.5], RescaleIntercept=-1024, RescaleSlope=1)
    before = sorted(os.listdir(source)), path.read_bytes()
    ds = pydicom.dcmread(path)
    line = measure(Shape("line", ((1, 2), (31, 42))), ds)
    roi = measure(Shape.ellipse(30.5, 20.5, 10, 8), ds, ds.pixel_array)
    store = MeasurementStore(tmp_path / "data")
    identity = ImageIdentity.of(ds)
    saved = store.save(identity, 1, [line, roi])
    store.save(identity, 2, [line])
    assert saved == tmp_path / "data" / f"{ds.SOPInstanceUID}.json"
    assert (sorted(os.listdir(source)), path.read_bytes()) == before  # nothing beside (or in) the user's files
    assert [p.name for p in (tmp_path / "data").iterdir()] == [saved.name]  # no temporary file left
    # A new store on the same folder (the app started again) brings them back.
    again = MeasurementStore(tmp_path / "data")
    kept = again.load(ds.SOPInstanceUID, 1)
    assert [k.shape for k in kept] == [line.shape, roi.shape]
    assert kept[0].readings == line.readings and kept[1].readings == roi.readings
    assert again.frames(ds.SOPInstanceUID) == [1, 2] and again.load(ds.SOPInstanceUID, 3) == []
    # An empty set removes the frame's measurements.
    again.save(identity, 2, [])
    assert again.frames(ds.SOPInstanceUID) == [1]
    assert json.loads(saved.read_text(encoding="utf-8"))["version"] == 1


def test_csv_has_one_row_per_reading(tmp_path):
    ds = pydicom.dcmread(write_image(tmp_path / "dx.dcm", "DX", ImagerPixelSpacing=[0.2, 0.2]))
    store = MeasurementStore(tmp_path / "data")
    line = measure(Shape("line", ((0, 0), (30, 40))), ds)
    roi = measure(Shape("rectangle", ((2, 3), (12, 13))), ds, ds.pixel_array)
    store.save(ImageIdentity.of(ds), 1, [line, roi])
    out = tmp_path / "m.csv"
    assert store.export_csv(out) == 1 + 6
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    patient, study, series, instance, frame, tool, value, unit, basis = rows[1]
    assert (patient, study, series, instance, frame) == ("Test^Measure", ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, "1")
    assert (tool, float(value), unit, basis) == ("line", pytest.approx(10.0), "mm", "at detector")
    tools = [row[5] for row in rows[2:]]
    assert tools == ["rectangle mean", "rectangle sd", "rectangle min", "rectangle max", "rectangle count", "rectangle area"]
    assert rows[-1][6:] == [repr(10 * 0.2 * 10 * 0.2), "mm²", "at detector"]


def test_bad_uids_and_damaged_files_are_one_line_errors(tmp_path):
    store = MeasurementStore(tmp_path)
    with pytest.raises(ViewerError, match="not a SOP Instance UID"):
        store.load("../../etc/passwd")
    (tmp_path / "1.2.3.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ViewerError, match="cannot read the measurements") as info:
        store.load("1.2.3")
    assert "\n" not in str(info.value)
    ds = pydicom.Dataset()
    with pytest.raises(ViewerError, match="no valid SOP Instance UID"):
        ImageIdentity.of(ds)


def test_default_data_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "dicom-viewer" / "measurements"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert default_data_dir().parts[-4:] == (".local", "share", "dicom-viewer", "measurements")


def test_user_calibration_is_kept_per_series_until_cleared(tmp_path):
    from viewer.core.display.calibration import user_calibration

    ds = pydicom.dcmread(write_image(tmp_path / "ot.dcm", "OT"))
    store = MeasurementStore(tmp_path / "data")
    assert store.user_calibration(ds.SeriesInstanceUID) is None
    calibration = user_calibration(ds, (0, 0), (40, 0), 10.0)
    store.set_user_calibration(ds.SeriesInstanceUID, calibration)
    kept = MeasurementStore(tmp_path / "data").user_calibration(ds.SeriesInstanceUID)
    assert kept == calibration and kept.basis == "user calibrated"
    assert measure(Shape("line", ((0, 0), (8, 0))), ds, user=kept).to_json()["value"] == pytest.approx(2.0)
    store.set_user_calibration(ds.SeriesInstanceUID, None)
    assert store.user_calibration(ds.SeriesInstanceUID) is None
