"""Layouts, hanging and the prior study (viewer.core.display.hanging): expected values worked out by hand."""

from __future__ import annotations

import pytest

from viewer.core.dicom.io import ViewerError
from viewer.core.display.hanging import (
    PRESET_SHAPES,
    GridShape,
    HangingProtocol,
    SeriesFacts,
    StudyFacts,
    hang,
    hang_keeping_first,
    latest_prior,
    parse_grid_shape,
    prior_series_index,
    protocols_from_json,
    protocols_to_json,
)


def test_the_preset_shapes_are_those_the_issue_names():
    assert [str(s) for s in PRESET_SHAPES] == ["1x1", "1x2", "2x1", "2x2", "1x3", "3x3"]


@pytest.mark.parametrize(("text", "rows", "columns"), [("2x2", 2, 2), (" 1 X 3 ", 1, 3), ("4*4", 4, 4), ("3\u00d72", 3, 2)])
def test_a_shape_is_read_from_rows_x_columns(text, rows, columns):
    assert parse_grid_shape(text) == GridShape(rows, columns)


@pytest.mark.parametrize("text", ["", "2", "0x1", "5x1", "1x5", "axb", "2x2x2"])
def test_anything_else_is_one_clear_error(text):
    with pytest.raises(ViewerError) as raised:
        parse_grid_shape(text)
    assert "\n" not in str(raised.value)


def test_cells_are_numbered_in_reading_order():
    shape = GridShape(2, 3)
    assert shape.cells == 6
    assert [shape.position(i) for i in range(6)] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]


def test_series_hang_by_series_number_then_as_met():
    series = [SeriesFacts("a", "3"), SeriesFacts("b", "1"), SeriesFacts("c", ""), SeriesFacts("d", "2"), SeriesFacts("e", "1")]
    # 1 (b), 1 (e, met later), 2 (d), 3 (a), then c which has no number.
    assert hang(series, 4) == [1, 4, 3, 0]
    assert hang(series, 6) == [1, 4, 3, 0, 2, None]
    assert hang(series[:1], 4) == [0, None, None, None]


def test_a_protocol_puts_the_series_the_user_hung_back_in_its_cell():
    series = [SeriesFacts("a", "1", "AX T1"), SeriesFacts("b", "2", "AX T2"), SeriesFacts("c", "3", "COR T2")]
    # Last time: COR T2 top left, AX T1 bottom right; the others fill in series order.
    assert hang(series, 4, ["COR T2", "", "", "AX T1"]) == [2, 1, None, 0]
    # A description no series has leaves the cell to the order.
    assert hang(series, 2, ["SAG T1", "AX T2"]) == [0, 1]


def test_protocols_round_trip_and_bad_entries_are_dropped():
    protocols = {"CT": HangingProtocol(GridShape(2, 2), ("AX", "COR", "", "")), "MR": HangingProtocol(GridShape(1, 3))}
    assert protocols_from_json(protocols_to_json(protocols)) == protocols
    assert protocols_from_json('{"CT": {"layout": "9x9"}, "MR": {"layout": "1x2"}, "PT": 3}') == {"MR": HangingProtocol(GridShape(1, 2))}
    assert protocols_from_json("not json") == {}
    assert protocols_from_json("[1, 2]") == {}


def study(uid, date, time="", patient="P1", issuer="H1", modalities=("CT",)):
    return StudyFacts(uid, patient, issuer, date, time, frozenset(modalities))


def test_the_latest_earlier_study_of_the_same_patient_and_modality_is_the_prior():
    current = study("now", "20240610", "101500")
    others = [
        study("old", "20200101"),
        study("last-year", "20230610", "0930"),
        study("same-day-earlier", "20240610", "08"),
        study("later", "20240611"),
        study("mr", "20240601", modalities=("MR",)),
        study("other-issuer", "20240609", issuer="H2"),
        study("other-patient", "20240609", patient="P2"),
        study("no-date", ""),
    ]
    assert latest_prior(current, others, "CT").uid == "same-day-earlier"
    assert latest_prior(current, others[:2], "CT").uid == "last-year"
    assert latest_prior(current, others, "MR").uid == "mr"
    assert latest_prior(current, others, "US") is None


def test_no_prior_without_a_patient_id_or_a_date():
    others = [study("old", "20200101", patient="")]
    assert latest_prior(study("now", "20240610", patient=""), others, "CT") is None
    assert latest_prior(study("now", ""), [study("old", "20200101")], "CT") is None


def test_study_times_compare_whatever_their_precision():
    # 10 o'clock (TM "10") is after 09:59:59.5 and before 10:00:00.1.
    current = study("now", "20240610", "10")
    assert latest_prior(current, [study("a", "20240610", "095959.5"), study("b", "20240610", "100000.1")], "CT").uid == "a"


def test_the_prior_series_is_the_one_like_the_current():
    prior = [SeriesFacts("x", "2", "Chest"), SeriesFacts("y", "5", "Head"), SeriesFacts("z", "3", "Abdomen")]
    assert prior_series_index(SeriesFacts("c", "9", "Head"), prior) == 1
    assert prior_series_index(SeriesFacts("c", "3", "Brain"), prior) == 2
    assert prior_series_index(SeriesFacts("c", "7", "Brain"), prior) == 0
    assert prior_series_index(SeriesFacts("c"), []) is None


def test_the_series_shown_first_keeps_the_first_cell_unless_the_protocol_names_another():
    series = [SeriesFacts("a", "3", "COR"), SeriesFacts("b", "1", "AX"), SeriesFacts("c", "2", "SAG")]
    # "a" was shown at once while the study was read: it stays top left, the rest follow by number.
    assert hang_keeping_first(series, 4, 0) == [0, 1, 2, None]
    assert hang_keeping_first(series, 1, 0) == [0]
    # The protocol says AX goes top left: it does.
    assert hang_keeping_first(series, 2, 0, ["AX", "COR"]) == [1, 0]
    # A cell-0 description no series has changes nothing.
    assert hang_keeping_first(series, 3, 0, ["T2", "SAG"]) == [0, 2, 1]
