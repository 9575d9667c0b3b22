"""Editing measurements without Qt: handles, moves, picking, undo and redo (what the viewport's tools will call)."""

from __future__ import annotations

import pytest

from viewer.core.measure.editing import EditHistory, distance_to, handles, nearest_handle, translated, with_handle_moved
from viewer.core.measure.geometry import Shape


def test_box_handles_keep_the_opposite_corner():
    ellipse = Shape.ellipse(50, 40, 10, 5)
    assert handles(ellipse) == [(40, 35), (60, 35), (60, 45), (40, 45)]
    moved = with_handle_moved(ellipse, 2, (70.25, 55.5))  # bottom right dragged
    assert moved.box() == (40, 35, 70.25, 55.5) and moved.tool == "ellipse"
    flipped = with_handle_moved(ellipse, 0, (80, 50))  # dragged past the opposite corner: still a box
    assert flipped.box() == (60, 45, 80, 50)


def test_point_handles_and_translation_keep_sub_pixel_positions():
    angle = Shape("angle", ((1.25, 2.5), (10, 10), (20.75, 3)))
    assert with_handle_moved(angle, 1, (11.125, 9.875)).points[1] == (11.125, 9.875)
    assert translated(angle, 0.5, -0.25).points == ((1.75, 2.25), (10.5, 9.75), (21.25, 2.75))
    arrow = Shape("arrow", ((0, 0), (5, 5)), "lesion")
    assert translated(arrow, 1, 1).text == "lesion"


def test_picking_handles_and_shapes():
    line = Shape("line", ((0, 0), (10, 0)))
    assert nearest_handle(line, (9.6, 0.3), tolerance=1) == 1 and nearest_handle(line, (5, 0), tolerance=1) is None
    assert distance_to(line, (5, 3)) == pytest.approx(3) and distance_to(line, (13, 4)) == pytest.approx(5)
    circle = Shape.ellipse(0, 0, 10, 10)
    assert distance_to(circle, (0, 12)) == pytest.approx(2, abs=0.1)
    assert distance_to(Shape("point", ((3, 4),)), (0, 0)) == pytest.approx(5)
    cobb = Shape("cobb", ((0, 0), (10, 0), (0, 10), (10, 10)))
    assert distance_to(cobb, (5, 5)) == pytest.approx(5)  # not along the gap between its lines
    assert distance_to(Shape("polygon", ((0, 0), (2, 0), (0, 2))), (1, 1)) == pytest.approx(0)  # on its closing edge


def test_undo_redo_and_one_step_per_drag():
    history = EditHistory()
    line = Shape("line", ((0, 0), (10, 0)))
    history.add(line)
    for k in range(1, 6):  # a drag: many moves, one step
        history.replace(0, with_handle_moved(history.shapes[0], 1, (10 + k, 0)), continuing=k > 1)
    assert history.shapes[0].points[1] == (15, 0)
    history.add(Shape.ellipse(5, 5, 2, 2))
    history.remove(0)
    assert [s.tool for s in history.shapes] == ["ellipse"]
    assert history.undo() and [s.tool for s in history.shapes] == ["line", "ellipse"]
    assert history.undo() and len(history.shapes) == 1 and history.shapes[0].points[1] == (15, 0)
    assert history.undo() and history.shapes == (line,)  # the whole drag undone at once
    assert history.undo() and history.shapes == () and not history.undo()
    assert history.redo() and history.redo() and history.shapes[0].points[1] == (15, 0)
    history.add(Shape("point", ((1, 1),)))  # a new change forgets what could be redone
    assert not history.can_redo()
