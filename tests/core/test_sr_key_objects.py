"""Key Object Selection: the flagged instances and frames, the title and the description, as the file says."""

from __future__ import annotations

import pydicom
import pytest
from sr_reports import DSRDUMP, XML2DSR, xml2dsr

from viewer.core.documents.key_objects import key_objects
from viewer.core.documents.sr import read_report

pytestmark = pytest.mark.skipif(not (DSRDUMP and XML2DSR), reason="dcmtk's xml2dsr makes the KO")


def test_key_objects_of_a_ko_made_by_xml2dsr(tmp_path):
    path = xml2dsr("key_objects.xml", tmp_path)
    ds = pydicom.dcmread(path)
    selection = key_objects(read_report(path))
    assert selection.title == ds.ConceptNameCodeSequence[0].CodeMeaning == "Of Interest"
    descriptions = [item.TextValue for item in ds.ContentSequence if item.ValueType == "TEXT"]
    assert [selection.description] == descriptions
    images = [item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for item in ds.ContentSequence if item.ValueType == "IMAGE"]
    assert list(selection.instances) == images and all(frames == () for frames in selection.instances.values())
    assert selection.flags(images[0], 7)  # no frames listed: every frame
    assert not selection.flags("1.2.3", 0)
    assert selection.note() == "Of Interest: Two slices through the lesion"


def test_frames_of_the_test_sr_image_reference():
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("test-SR.dcm"))
    ref = ds.ContentSequence[4].ReferencedSOPSequence[0]
    selection = key_objects(read_report(get_testdata_file("test-SR.dcm")))
    frames = [int(f) for f in ref.ReferencedFrameNumber]
    assert selection.instances[ref.ReferencedSOPInstanceUID] == tuple(frames)
    assert selection.flags(ref.ReferencedSOPInstanceUID, frames[0] - 1)
    assert not selection.flags(ref.ReferencedSOPInstanceUID, max(frames) + 5)
