"""Waveforms (PS3.3 C.10.9): channel values against pydicom's ``waveform_array``, the ECG paper, damaged files.

Expected sample values come from pydicom (``Dataset.waveform_array``, which
applies sensitivity, correction factor and baseline itself) on pydicom's own
12-lead ECG (waveform_ecg.dcm); expected positions on the paper from the
standard ECG scales (25 mm/s, 10 mm/mV), computed here.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.cli import main
from viewer.core.dicom.io import ViewerError
from viewer.core.documents import waveform as wf

ECG = get_testdata_file("waveform_ecg.dcm")


@pytest.fixture
def ecg() -> Dataset:
    return pydicom.dcmread(ECG)


def test_values_match_pydicom_for_every_group(ecg):
    read = wf.read_waveform(Path(ECG))
    assert read.kind == "12-lead ECG" and len(read.groups) == len(ecg.WaveformSequence) == 2
    for index, group in enumerate(read.groups):
        expected = ecg.waveform_array(index)
        item = ecg.WaveformSequence[index]
        assert group.label == item.MultiplexGroupLabel and group.sampling_frequency == float(item.SamplingFrequency)
        assert group.samples == expected.shape[0] and len(group.channels) == expected.shape[1]
        for column, channel in enumerate(group.channels):
            np.testing.assert_allclose(channel.values, expected[:, column], rtol=1e-12, atol=0)
        labels = [d.ChannelSourceSequence[0].CodeMeaning for d in item.ChannelDefinitionSequence]
        assert [c.label for c in group.channels] == labels
        assert {c.units for c in group.channels} == {"uV"} and group.channels[0].units_meaning == "microvolt"
        np.testing.assert_allclose(group.channels[1].millivolts(), expected[:, 1] / 1000)


def test_correction_factor_baseline_and_label_apply(ecg):
    item = ecg.WaveformSequence[0]
    definitions = item.ChannelDefinitionSequence
    definitions[0].ChannelSensitivityCorrectionFactor = "1.5"
    definitions[0].ChannelBaseline = "-20"
    definitions[3].ChannelSensitivity = "2.5"
    definitions[3].ChannelBaseline = "7.25"
    definitions[3].ChannelLabel = "aVR (relabelled)"
    expected = ecg.waveform_array(0)
    group = wf.read_waveform(ecg).groups[0]
    for column in (0, 3, 5):
        np.testing.assert_allclose(group.channels[column].values, expected[:, column], rtol=1e-12)
    assert group.channels[3].label == "aVR (relabelled)"


def test_waveform_kinds_are_listed():
    assert wf.waveform_kind("1.2.840.10008.5.1.4.1.1.9.1.2") == "General ECG"
    assert wf.waveform_kind("1.2.840.10008.5.1.4.1.1.9.1.3") == "Ambulatory ECG"
    assert wf.waveform_kind("1.2.840.10008.5.1.4.1.1.9.2.1") == "Hemodynamic waveform"
    assert wf.waveform_kind("1.2.840.10008.5.1.4.1.1.2") is None


# ----------------------------------------------------------------------------- the paper


def square_pulse_ecg(tmp_path: Path, sampling: float = 500.0) -> tuple[Path, int]:
    """A General ECG of 3 s: channel 1 is 0 mV, then 1 mV from 1 s to 2 s, stored in uV with sensitivity 2 (value 500)."""
    samples = int(3 * sampling)
    stored = np.zeros((samples, 2), dtype="<i2")
    stored[int(sampling) : int(2 * sampling), 0] = 500  # x 2 uV = 1 mV
    stored[:, 1] = (np.arange(samples) % 50).astype("<i2")  # a sawtooth in mmHg: not a voltage
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.9.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Wave^Square", "W1", "ECG"
    group = Dataset()
    group.MultiplexGroupLabel = "SQUARE"
    group.NumberOfWaveformChannels, group.NumberOfWaveformSamples = 2, samples
    group.SamplingFrequency = sampling
    group.WaveformBitsAllocated, group.WaveformSampleInterpretation = 16, "SS"
    definitions = []
    for label, sensitivity, code, meaning in (("Lead II", 2, "uV", "microvolt"), ("Pressure", 1, "mm[Hg]", "millimeter of mercury")):
        d = Dataset()
        d.ChannelLabel = label
        d.ChannelSensitivity = sensitivity
        unit = Dataset()
        unit.CodeValue, unit.CodingSchemeDesignator, unit.CodeMeaning = code, "UCUM", meaning
        d.ChannelSensitivityUnitsSequence = [unit]
        d.ChannelSensitivityCorrectionFactor, d.ChannelBaseline = 1, 0
        d.WaveformBitsStored = 16
        definitions.append(d)
    group.ChannelDefinitionSequence = definitions
    group.WaveformData = stored.tobytes()
    ds.WaveformSequence = [group]
    path = tmp_path / "square.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, samples


def test_paper_is_25_mm_per_second_and_10_mm_per_millivolt(tmp_path):
    path, _ = square_pulse_ecg(tmp_path)
    out = tmp_path / "ecg.png"
    assert main(["export", str(path), "-o", str(out)]) == 0
    image = np.asarray(Image.open(out).convert("RGB"))
    px_mm = wf.PIXELS_PER_MM
    left, top, row = wf.LEFT_MM * px_mm, wf.TOP_MM * px_mm, wf.ROW_MM * px_mm
    assert image.shape[1] == int(np.ceil(max(wf.LEFT_MM + 3 * 25 + 5, wf.MIN_WIDTH_MM) * px_mm))
    middle = top + row // 2
    black = (image == 0).all(axis=2)

    def trace_rows(seconds: float, columns: int = 1) -> np.ndarray:
        x = int(round(left + seconds * 25 * px_mm))
        return np.flatnonzero(black[top : top + row, x - columns + 1 : x + 1].any(axis=1)) + top

    assert set(trace_rows(0.5)) == {middle}  # 0 mV on the row's middle
    assert set(trace_rows(1.5)) == {middle - 10 * px_mm}  # 1 mV is 10 mm up
    assert set(trace_rows(2.5)) == {middle}
    # The step up at 1 s: a vertical stroke 10 mm tall, 25 mm after time 0 (drawn over the pixel column before it too).
    assert set(trace_rows(1.0, columns=2)) == set(range(middle - 10 * px_mm, middle + 1))


def test_group_out_of_range_is_one_line(tmp_path, capsys):
    assert main(["export", ECG, "--frame", "3", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dicom-viewer: multiplex group 3 does not exist (the waveform has 2)"]


def test_median_beat_group_exports(tmp_path):
    out = tmp_path / "beat.png"
    assert main(["export", ECG, "--frame", "2", "-o", str(out)]) == 0
    assert Image.open(out).size[1] == int(np.ceil((wf.TOP_MM + 12 * wf.ROW_MM + 5) * wf.PIXELS_PER_MM))


# ----------------------------------------------------------------------------- damaged files


def _damage(ds: Dataset, how: str) -> None:
    item = ds.WaveformSequence[0]
    if how == "truncated data":
        item.WaveformData = item.WaveformData[:1000]
    elif how == "channel count":
        item.NumberOfWaveformChannels = 13
    elif how == "bits":
        item.WaveformBitsAllocated = 12
    elif how == "frequency":
        item.SamplingFrequency = 0
    elif how == "no data":
        del item.WaveformData
    elif how == "empty sequence":
        ds.WaveformSequence = []
    elif how == "sensitivity text":
        with warnings.catch_warnings():  # pydicom warns that 'nan' is no DS: that is the damage
            warnings.simplefilter("ignore")
            item.ChannelDefinitionSequence[2].ChannelSensitivity = "nan"


@pytest.mark.parametrize(
    ("how", "fragment"),
    [
        ("truncated data", "waveform data holds 1000 bytes"),
        ("channel count", "defines 12 channels but holds 13"),
        ("bits", "12-bit samples"),
        ("frequency", "sampling frequency of 0 Hz"),
        ("no data", "lacks WaveformData"),
        ("empty sequence", "has no waveform"),
        ("sensitivity text", "malformed"),
    ],
)
def test_damaged_waveform_is_one_line(tmp_path, capsys, ecg, how, fragment):
    damaged = copy.deepcopy(ecg)
    _damage(damaged, how)
    path = tmp_path / "damaged.dcm"
    damaged.save_as(path)
    with pytest.raises(ViewerError):
        wf.read_waveform(path)
    assert main(["export", str(path), "-o", str(tmp_path / "x.png")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and lines[0].startswith("dicom-viewer: damaged.dcm: "), lines
    assert not (tmp_path / "x.png").exists()


def test_file_cut_short_is_one_line(tmp_path, capsys):
    path = tmp_path / "cut.dcm"
    path.write_bytes(Path(ECG).read_bytes()[:200000])  # inside the rhythm group's Waveform Data
    assert main(["export", str(path), "-o", str(tmp_path / "x.png")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicom-viewer: cut.dcm: "), lines
