"""Reports and presentation states written by highdicom (a writer no one here wrote), for tests.

:func:`measurement_report` is a TID 1500 *Imaging Measurement Report* in a
Comprehensive 3D SR (``highdicom.sr.Comprehensive3DSR``): two planar ROI
measurement groups (TID 1410) on an image, each with a measurement, a
qualitative evaluation and an image region (SCOORD POLYLINE, ELLIPSE), and
a volumetric group whose region is a SCOORD3D polygon in the image's frame
of reference. :func:`annotated_state` is a Grayscale Softcopy Presentation
State (``highdicom.pr.GrayscaleSoftcopyPresentationState``) with a window
and graphic annotations in PIXEL and DISPLAY units: a polyline, an ellipse,
a line across the display and two text objects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

hd = pytest.importorskip("highdicom", reason="highdicom (the test extra) writes the reference objects")
from pydicom.sr.codedict import codes  # noqa: E402

#: What the state's graphics are, in the image's PIXEL units (x = column, y = row) or DISPLAY units (0-1).
STATE_LINE = [(10.5, 20.5), (100.5, 20.5)]
STATE_ELLIPSE = [(34.0, 64.0), (94.0, 64.0), (64.0, 49.0), (64.0, 79.0)]  # half-axes 30 across, 15 down
STATE_DISPLAY_LINE = [(0.25, 0.9), (0.75, 0.9)]
STATE_WINDOW = (100.0, 500.0)
#: The state layer's colour, CIELab: a red (burned pixels are told from grey ones by R != G).
RED = (53.0, 80.0, 67.0)


def measurement_report(image_path: Path, out: Path) -> Path:
    """A TID 1500 report on `image_path` (its 2D regions on it, a 3D region in its frame of reference), written to `out`."""
    image = pydicom.dcmread(image_path)
    source = hd.sr.SourceImageForRegion.from_source_image(image)
    regions = [
        hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
            graphic_data=np.array([[10.5, 20.0], [40.0, 20.0], [40.0, 50.25], [10.5, 20.0]]),
            source_image=source,
        ),
        hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.ELLIPSE,
            graphic_data=np.array([[60.0, 64.0], [90.0, 64.0], [75.0, 54.0], [75.0, 74.0]]),
            source_image=source,
        ),
    ]
    groups: list = []
    for number, region in enumerate(regions, 1):
        groups.append(
            hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"Lesion {number}"),
                referenced_region=region,
                finding_type=codes.SCT.Lesion,
                measurements=[hd.sr.Measurement(name=codes.SCT.Area, value=11.5 + number, unit=codes.UCUM.SquareMillimeter)],
                qualitative_evaluations=[
                    hd.sr.QualitativeEvaluation(
                        name=hd.sr.CodedConcept("RID49502", "RADLEX", "Clinically significant"),
                        value=codes.SCT.Yes if number == 1 else codes.SCT.No,
                    )
                ],
            )
        )
    # A polygon in the patient's space (mm), in the plane of the image: its corners at image pixels, mapped by
    # Image Position and Orientation (PS3.3 C.7.6.2.1.1).
    origin = np.array([float(v) for v in image.ImagePositionPatient])
    row_dir, column_dir = (
        np.array([float(v) for v in image.ImageOrientationPatient[:3]]),
        np.array([float(v) for v in image.ImageOrientationPatient[3:]]),
    )
    spacing = [float(v) for v in image.PixelSpacing]
    corners = [(20, 90), (50, 90), (50, 110), (20, 110), (20, 90)]  # (column, row)
    polygon = np.array([origin + c * spacing[1] * row_dir + r * spacing[0] * column_dir for c, r in corners])
    groups.append(
        hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Lesion 3"),
            referenced_region=hd.sr.ImageRegion3D(
                graphic_type=hd.sr.GraphicTypeValues3D.POLYGON, graphic_data=polygon, frame_of_reference_uid=image.FrameOfReferenceUID
            ),
            finding_type=codes.SCT.Lesion,
            measurements=[hd.sr.Measurement(name=codes.SCT.Area, value=140.0, unit=codes.UCUM.SquareMillimeter)],
        )
    )
    context = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Müller^Jörg"),
        )
    )
    content = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
        title=codes.DCM.ImagingMeasurementReport,
    )
    report = hd.sr.Comprehensive3DSR(
        evidence=[image],
        content=content,
        series_instance_uid=hd.UID(),
        series_number=50,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="highdicom test",
    )
    report.save_as(out)
    return out


def annotated_state(image_path: Path, out: Path) -> Path:
    """A GSPS on `image_path` with :data:`STATE_WINDOW` and graphics and text in PIXEL and DISPLAY units, written to `out`."""
    image = pydicom.dcmread(image_path)
    layer = hd.pr.GraphicLayer(layer_name="FINDINGS", order=1, description="highdicom", display_color=hd.color.CIELabColor(*RED))
    pixel, display = hd.pr.AnnotationUnitsValues.PIXEL, hd.pr.AnnotationUnitsValues.DISPLAY
    graphics = [
        hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.POLYLINE, graphic_data=np.array(STATE_LINE), units=pixel),
        hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.ELLIPSE, graphic_data=np.array(STATE_ELLIPSE), units=pixel),
        hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.POLYLINE, graphic_data=np.array(STATE_DISPLAY_LINE), units=display),
    ]
    texts = [
        hd.pr.TextObject(text_value="R", units=display, bounding_box=(0.05, 0.05, 0.3, 0.3)),
        hd.pr.TextObject(text_value="lesion", units=pixel, anchor_point=(70.0, 100.0)),
    ]
    annotation = hd.pr.GraphicAnnotation(referenced_images=[image], graphic_layer=layer, graphic_objects=graphics, text_objects=texts)
    state = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[image],
        series_instance_uid=hd.UID(),
        series_number=90,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="highdicom test",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
        content_label="FINDINGS",
        graphic_layers=[layer],
        graphic_annotations=[annotation],
        voi_lut_transformations=[hd.pr.SoftcopyVOILUTTransformation(window_center=STATE_WINDOW[0], window_width=STATE_WINDOW[1])],
    )
    state.save_as(out)
    return out
