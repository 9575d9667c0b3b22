"""The automatic window of a series, the soft-tissue default for CT, and presets only in HU.

Expected windows are computed here with numpy (``np.percentile``) from the
stored values pydicom decodes, or by hand from the attributes the files
declare (PS3.3 C.11.1: modality value = stored * slope + intercept); never
by calling the code under test.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.pixels.processing import apply_modality_lut

from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import ViewerError
from viewer.core.display.annotations import pipeline_stages
from viewer.core.display.frames import FrameSource, series_window
from viewer.core.display.pixels import presets
from viewer.core.display.pixels.auto_window import percentile_window, weighted_percentile
from viewer.core.display.pixels.pipeline import SOFT_TISSUE_WINDOW, Window, describe_voi, is_hounsfield, modality_unit
from viewer.core.display.pixels.presets import find_preset, preset_for, presets_for
from viewer.core.media.model import ImageRef, Instance


def series_of(*paths) -> list[ImageRef]:
    """The images of a series as the catalog gives them: every frame of every instance, in order."""
    images = []
    for path in paths:
        header = read_index_header(path)
        frames = int(header.get("NumberOfFrames", 1) or 1)
        instance = Instance(path, header, frames)
        images.extend(ImageRef(instance, f) for f in range(frames))
    return images


def percentile_by_numpy(modality: np.ndarray) -> tuple[float, float]:
    """The expected window: center and width spanning the 0.5 and 99.5 percentiles."""
    lo, hi = np.percentile(modality.astype(np.float64), [0.5, 99.5])
    return (lo + hi) / 2, hi - lo


def with_signed(path, **values):
    """Add 'US or SS' attributes as SS (pydicom leaves the choice to the writer), by keyword."""
    from pydicom.datadict import tag_for_keyword

    ds = pydicom.dcmread(path)
    for keyword, value in values.items():
        ds.add(DataElement(tag_for_keyword(keyword), "SS", value))
    ds.save_as(path)
    return path


def no_decoding(ref):
    raise AssertionError(f"decoded {ref} although the headers declare the range")


# --------------------------------------------------------------------------- one window per series


def test_one_window_for_every_frame_of_emri_small(sample):
    """emri_small.dcm: 10 MR frames, no window. Per-frame min-max gave W 425/415/424/434...;
    the series gets one window: the 0.5-99.5 percentile of the middle frame (6 of 10)."""
    path = sample("emri_small.dcm")
    ds = pydicom.dcmread(path)
    assert "WindowCenter" not in ds and "SmallestImagePixelValue" not in ds
    store = FrameSource()
    images = series_of(path)
    assert len(images) == 10
    window = series_window(store, images)
    center, width = percentile_by_numpy(ds.pixel_array[5])
    assert window.center == pytest.approx(center, abs=1e-9) and window.width == pytest.approx(width, abs=1e-9)
    assert window.explanation == "for the series, from the 0.5-99.5 percentile of image 6"
    shown = {store.frame(ref).default_voi(window) for ref in images}
    assert shown == {window}


def test_a_series_of_slices_without_a_window_keeps_one_window(tmp_path, make_instance):
    """Five MR slices whose contrast differs: all open with the middle slice's percentiles."""
    source = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm"))
    base = source.pixel_array.astype(np.int32)
    paths, pixels = [], []
    for i in range(5):
        stored = (base * (i + 1) // 2).astype(np.int16)
        pixels.append(stored)
        paths.append(
            make_instance(
                tmp_path / f"s{i}.dcm",
                "MR_small.dcm",
                PixelData=stored.tobytes(),
                InstanceNumber=i + 1,
                ImagePositionPatient=[0, 0, float(i)],
                WindowCenter=None,
                WindowWidth=None,
                SmallestImagePixelValue=None,
                LargestImagePixelValue=None,
            )
        )
    store = FrameSource()
    images = series_of(*paths)
    window = series_window(store, images)
    center, width = percentile_by_numpy(pixels[2])
    assert (window.center, window.width) == pytest.approx((center, width))
    assert "percentile of image 3" in window.explanation
    assert {store.frame(ref).default_voi(window) for ref in images} == {window}
    # Each slice's own min-max would have differed: that was the jump.
    assert len({store.frame(ref).auto_window() for ref in images}) == 5


def test_window_from_smallest_and_largest_image_pixel_value(tmp_path, make_instance):
    """(0028,0106)/(0028,0107) of every instance, each through its own rescale (PS3.3 C.11.1.2)."""
    declared = [(-20, 300, 1.0, 0.0), (5, 900, 2.0, -10.0), (0, 400, 0.5, 100.0)]  # smallest, largest, slope, intercept
    paths = [
        make_instance(
            tmp_path / f"r{i}.dcm",
            "MR_small.dcm",
            InstanceNumber=i + 1,
            ImagePositionPatient=[0, 0, float(i)],
            WindowCenter=None,
            WindowWidth=None,
            SmallestImagePixelValue=lo,
            LargestImagePixelValue=hi,
            RescaleSlope=slope,
            RescaleIntercept=intercept,
        )
        for i, (lo, hi, slope, intercept) in enumerate(declared)
    ]
    window = series_window(FrameSource(), series_of(*paths), no_decoding)
    lo = min(s * slope + b for s, _, slope, b in declared)  # -20
    hi = max(s * slope + b for _, s, slope, b in declared)  # 900 * 2 - 10 = 1790
    assert (window.center, window.width) == ((lo + hi) / 2, hi - lo)
    assert window.explanation == "for the series, from Smallest/Largest Image Pixel Value"

    # One instance without them: the files do not say, so the percentiles decide.
    make_instance(
        tmp_path / "r9.dcm",
        "MR_small.dcm",
        InstanceNumber=9,
        ImagePositionPatient=[0, 0, 9.0],
        WindowCenter=None,
        WindowWidth=None,
        SmallestImagePixelValue=None,
        LargestImagePixelValue=None,
    )
    window = series_window(FrameSource(), series_of(*paths, tmp_path / "r9.dcm"))
    assert "percentile" in window.explanation


def test_series_level_range_wins(tmp_path, make_instance):
    """(0028,0108)/(0028,0109) Smallest/Largest Pixel Value in Series describe the whole series."""
    paths = [
        with_signed(
            make_instance(
                tmp_path / f"q{i}.dcm",
                "MR_small.dcm",
                InstanceNumber=i + 1,
                ImagePositionPatient=[0, 0, float(i)],
                WindowCenter=None,
                WindowWidth=None,
            ),
            SmallestPixelValueInSeries=10,
            LargestPixelValueInSeries=3010,
        )
        for i in range(3)
    ]
    window = series_window(FrameSource(), series_of(*paths), no_decoding)
    assert (window.center, window.width) == (1510.0, 3000.0)
    assert window.explanation == "for the series, from Smallest/Largest Pixel Value in Series"


def test_signed_range_written_as_us_is_read_as_signed(tmp_path, make_instance):
    """Pixel Representation 1: the range is SS; a file that wrote US holds two's complement."""
    path = make_instance(tmp_path / "signed.dcm", "CT_small.dcm")
    ds = pydicom.dcmread(path)
    assert int(ds.PixelRepresentation) == 1
    ds.add(DataElement(0x00280106, "US", (-50) & 0xFFFF))  # 65486 on disk
    ds.add(DataElement(0x00280107, "US", 2000))
    ds.save_as(path)
    window = series_window(FrameSource(), series_of(path), no_decoding)
    slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
    lo, hi = -50 * slope + intercept, 2000 * slope + intercept
    assert (window.center, window.width) == ((lo + hi) / 2, hi - lo)


def test_pixel_padding_is_left_out(tmp_path, make_instance):
    """(0028,0120) Pixel Padding Value: not image, so not in the percentiles (PS3.3 C.7.5.1.1.2)."""
    stored = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm")).pixel_array.copy()
    stored[:, :20] = -5  # a padded band, a third of the image
    path = with_signed(
        make_instance(
            tmp_path / "pad.dcm",
            "MR_small.dcm",
            PixelData=stored.tobytes(),
            WindowCenter=None,
            WindowWidth=None,
            SmallestImagePixelValue=None,
            LargestImagePixelValue=None,
        ),
        PixelPaddingValue=-5,
    )
    window = series_window(FrameSource(), series_of(path))
    center, width = percentile_by_numpy(stored[stored != -5])
    assert (window.center, window.width) == pytest.approx((center, width))

    # A declared range that takes in the padding spans the padding: not used.
    path = with_signed(
        make_instance(
            tmp_path / "pad2.dcm",
            "MR_small.dcm",
            PixelData=stored.tobytes(),
            WindowCenter=None,
            WindowWidth=None,
            SmallestImagePixelValue=-5,
            LargestImagePixelValue=int(stored.max()),
        ),
        PixelPaddingValue=-5,
    )
    window = series_window(FrameSource(), series_of(path))
    assert (window.center, window.width) == pytest.approx((center, width)) and "percentile" in window.explanation


def test_pixel_padding_range_limit_is_left_out(tmp_path, make_instance):
    """(0028,0121) Pixel Padding Range Limit: every value between it and the padding value is padding."""
    stored = pydicom.dcmread(pydicom.data.get_testdata_file("MR_small.dcm")).pixel_array.copy()
    stored[:10, :] = np.arange(64, dtype=np.int16) % 7 - 10  # values -10..-4
    path = with_signed(
        make_instance(
            tmp_path / "range.dcm",
            "MR_small.dcm",
            PixelData=stored.tobytes(),
            WindowCenter=None,
            WindowWidth=None,
            SmallestImagePixelValue=None,
            LargestImagePixelValue=None,
        ),
        PixelPaddingValue=-10,
        PixelPaddingRangeLimit=-4,
    )
    window = series_window(FrameSource(), series_of(path))
    center, width = percentile_by_numpy(stored[(stored < -10) | (stored > -4)])
    assert (window.center, window.width) == pytest.approx((center, width))


def test_a_cr_declaring_0_to_0_falls_back_to_percentiles(sample):
    """pydicom's dicomdirtests CR 6154 declares Smallest and Largest Image Pixel Value 0 and 0."""
    path = sample("dicomdirtests/77654033/CR1/6154")
    ds = pydicom.dcmread(path)
    assert (ds.SmallestImagePixelValue, ds.LargestImagePixelValue) == (0, 0)
    window = series_window(FrameSource(), series_of(path))
    modality = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)  # OD, PS3.3 C.11.1.2
    assert (window.center, window.width) == pytest.approx(percentile_by_numpy(modality))


def test_percentiles_through_a_modality_lut_sequence(sample, display):
    """mlut_18.dcm: modality values from its (0028,3000) Modality LUT Sequence (pydicom's reference)."""
    path = sample("mlut_18.dcm")
    ds = pydicom.dcmread(path)
    expected = percentile_by_numpy(apply_modality_lut(ds.pixel_array, ds))
    window = percentile_window(display(path), 1)
    assert (window.center, window.width) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_percentile_is_numpys(seed):
    rng = np.random.default_rng(seed)
    sample = rng.integers(-50, 50, size=int(rng.integers(1, 500))).astype(float)
    values, counts = np.unique(sample, return_counts=True)
    for q in (0.0, 0.5, 25.0, 50.0, 99.5, 100.0):
        assert weighted_percentile(values, counts, q) == pytest.approx(np.percentile(sample, q), abs=1e-9)


# --------------------------------------------------------------------------- CT without a window


def test_ct_without_a_window_opens_with_soft_tissue(tmp_path, sample, display, make_instance):
    ct = display(sample("CT_small.dcm"))  # no (0028,1050/1051), Rescale Intercept -1024, no Rescale Type
    assert not ct.uses_automatic_window()
    voi = ct.default_voi(Window(1, 2, "LINEAR", "for the series, from ...", "auto"))
    assert voi == SOFT_TISSUE_WINDOW and (voi.center, voi.width) == (40.0, 400.0)
    assert dict(pipeline_stages(ct, voi, False))["VOI"] == "no window in the file: soft-tissue preset, center 40, width 400"
    # A CT whose values are not HU gets the series' automatic window instead.
    od = display(make_instance(tmp_path / "od.dcm", "CT_small.dcm", RescaleType="OD"))
    automatic = Window(1, 2, "LINEAR", "for the series, from the 0.5-99.5 percentile of image 1", "auto")
    assert od.uses_automatic_window() and od.default_voi(automatic) is automatic
    assert dict(pipeline_stages(od, automatic, False))["VOI"] == (
        "window automatic for the series, from the 0.5-99.5 percentile of image 1: center 1, width 2"
    )


def test_the_frames_own_min_max_is_still_described_as_such(sample, display):
    fd = display(sample("emri_small.dcm"))
    assert dict(pipeline_stages(fd, fd.auto_window(), False))["VOI"].startswith("window automatic (min-max of the image)")


# --------------------------------------------------------------------------- presets only where values are HU


def test_hu_presets_only_where_the_modality_lut_gives_hu(tmp_path, sample, display, make_instance):
    assert "Lung" in presets_for(display(sample("693_UNCI.dcm")).ctx)  # Rescale Type HU
    assert "Lung" in presets_for(display(sample("CT_small.dcm")).ctx)  # a CT with no Rescale Type: HU
    for name in ("RG3_UNCI.dcm", "MR_small.dcm", "US1_UNCI.dcm", "mlut_18.dcm", "dicomdirtests/77654033/CR1/6154"):
        assert presets_for(display(sample(name)).ctx) == {}, name
    assert presets_for(display(make_instance(tmp_path / "od.dcm", "CT_small.dcm", RescaleType="OD")).ctx) == {}


def test_modality_lut_type_decides_the_unit(sample):
    """(0028,3004) Modality LUT Type names the unit of a Modality LUT Sequence's output."""
    ds = pydicom.dcmread(sample("mlut_18.dcm"))
    assert modality_unit(ds) == ""  # 'US': unspecified
    ds.Modality = "CT"
    assert not is_hounsfield(ds)  # a LUT of unspecified unit on a CT: not HU
    ds.ModalityLUTSequence[0].ModalityLUTType = "HU"
    assert is_hounsfield(ds) and "Lung" in presets_for(ds)


def test_preset_for_refuses_hu_on_other_values(sample, display):
    cr = display(sample("RG3_UNCI.dcm")).ctx
    with pytest.raises(ViewerError) as error:
        preset_for("lung", cr, "cr.dcm")
    assert str(error.value) == "cr.dcm: the 'lung' preset is in Hounsfield units; this CR image's values are not"
    od = display(sample("dicomdirtests/77654033/CR1/6154")).ctx
    with pytest.raises(ViewerError, match=r"values are not \(they are OD\)"):
        preset_for("Bone", od)
    with pytest.raises(ViewerError, match="unknown preset 'nope'"):
        preset_for("nope", cr)
    window = preset_for("temporal-bone", display(sample("693_UNCI.dcm")).ctx)
    assert describe_voi(window) == "W 2800 L 600"


def test_presets_edited_in_settings_are_the_ones_looked_up(sample, display):
    """The Settings dialog makes a new table of the user's presets; lookups in it see only those."""
    table = presets.BUILT_IN_PRESETS.with_unit("HU", {"Sinus": (400.0, 3000.0)})
    ct = display(sample("693_UNCI.dcm")).ctx
    assert list(presets_for(ct, table)) == ["Sinus"]
    assert find_preset("sinus", table).width == 3000.0 and preset_for("SINUS", ct, table=table).center == 400.0
    assert find_preset("lung", table) is None
